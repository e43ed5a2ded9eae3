"""A type that is not a model: any type a TypeAdapter takes."""

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler


async def message(peer: Peer, numbers: list[int]) -> None:
    await peer.send(str(sum(numbers)))


handler = define_websocket_handler(message=message)
