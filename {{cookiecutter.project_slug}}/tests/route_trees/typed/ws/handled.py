"""An error hook gets the ValidationError instead of the default error frame."""

from pydantic import ValidationError

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler

from .._models import Said


async def message(peer: Peer, said: Said) -> None:
    await peer.send(f"said {said.text}")


async def error(peer: Peer, exc: Exception) -> None:
    assert isinstance(exc, ValidationError)
    await peer.send(f"{type(exc).__name__}: {exc.errors()[0]['type']}")


handler = define_websocket_handler(message=message, error=error)
