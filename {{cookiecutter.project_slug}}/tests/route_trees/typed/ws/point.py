"""Validates each frame into a Point and sends it back, re-encoded."""

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler

from .._models import Point


async def message(peer: Peer, point: Point) -> None:
    await peer.send({"got": point, "type": type(point).__name__})


handler = define_websocket_handler(message=message, sends=Point)
