"""A Message-annotated hook sees every frame as it came."""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


async def message(peer: Peer, message: Message) -> None:
    await peer.send(f"raw {message.text()}")


handler = define_websocket_handler(message=message)
