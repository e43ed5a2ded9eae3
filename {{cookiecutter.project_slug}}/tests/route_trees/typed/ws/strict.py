"""Validates each frame into a model that refuses extra fields."""

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler

from .._models import StrictPoint


async def message(peer: Peer, point: StrictPoint) -> None:
    await peer.send(point)


handler = define_websocket_handler(message=message)
