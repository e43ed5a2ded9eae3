from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler


async def open(peer: Peer) -> None:
    await peer.send({"params": peer.params})


handler = define_websocket_handler(open=open)
