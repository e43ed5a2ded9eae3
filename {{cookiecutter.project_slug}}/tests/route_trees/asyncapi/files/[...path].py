"""Binary: takes any frame, sends bytes, under a catch-all parameter."""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


async def message(peer: Peer, message: Message) -> None:
    await peer.send(message.bytes())


handler = define_websocket_handler(message=message, sends=bytes)
