"""Accepts with what the query asks for: a subprotocol, a header, a namespace."""

from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import Accept, Peer, define_websocket_handler


def upgrade(request: HTTPConnection) -> Accept:
    query = request.query_params
    return Accept(
        context={"asked": dict(query)},
        headers={"X-Greeting": query.get("greeting", "hello")},
        subprotocol=query.get("choose"),
        namespace=query.get("namespace"),
    )


async def open(peer: Peer) -> None:
    await peer.send(
        {"context": peer.context, "namespace": peer.namespace, "remote": peer.remote_address}
    )


handler = define_websocket_handler(upgrade=upgrade, open=open)
