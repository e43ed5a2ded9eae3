"""Every peer of a room's namespace, on request; `?shared` puts all rooms in one namespace."""

from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import Accept, Message, Peer, define_websocket_handler


def upgrade(request: HTTPConnection) -> Accept | None:
    return Accept(namespace="rooms") if "shared" in request.query_params else None


async def open(peer: Peer) -> None:
    await peer.send({"id": str(peer), "namespace": peer.namespace})


async def message(peer: Peer, message: Message) -> None:
    await peer.send(sorted(str(other) for other in peer.peers))


async def close(peer: Peer, code: int, reason: str) -> None:
    for other in peer.peers:  # the peer has left them already
        await other.send({"left": str(peer)})


handler = define_websocket_handler(upgrade=upgrade, open=open, message=message, close=close)
