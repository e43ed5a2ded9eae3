"""Relays every frame, as it came, to the rest of the room."""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


async def open(peer: Peer) -> None:
    await peer.subscribe("room")


async def message(peer: Peer, message: Message) -> None:
    await peer.publish("room", message.data)


handler = define_websocket_handler(open=open, message=message)
