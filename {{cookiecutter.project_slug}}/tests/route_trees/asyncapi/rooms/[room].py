"""Typed both ways, with a path parameter."""

from datetime import UTC, datetime

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler

from .._models import Author, Said, Say


async def message(peer: Peer, say: Say) -> None:
    await peer.send(Said(author=Author(name=str(peer)), text=say.text, time=datetime.now(UTC)))


handler = define_websocket_handler(message=message, sends=Said)
