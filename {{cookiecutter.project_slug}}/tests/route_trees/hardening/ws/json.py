"""A handler that parses every message as JSON; its error hook answers what went wrong."""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


async def message(peer: Peer, message: Message) -> None:
    await peer.send({"got": message.json()})


async def error(peer: Peer, exc: Exception) -> None:
    await peer.send({"error": type(exc).__name__})


handler = define_websocket_handler(message=message, error=error)
