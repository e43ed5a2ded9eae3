# routes/api/ws/secure.py: a token, offered as a subprotocol
from fastapi import HTTPException
from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import Accept, Peer, define_websocket_handler

TOKENS = {"3f9c2a7e": "ada"}  # look tokens up where your app keeps them


def upgrade(request: HTTPConnection) -> Accept:
    # new WebSocket(url, ["bearer", token]) offers both; the server names "bearer" alone.
    match request.scope.get("subprotocols", []):
        case ["bearer", token] if token in TOKENS:
            return Accept(subprotocol="bearer", context={"user": TOKENS[token]})
    raise HTTPException(401, "a valid token is needed", headers={"WWW-Authenticate": "Bearer"})


async def open(peer: Peer) -> None:
    await peer.send(f"hello {peer.context['user']}")


handler = define_websocket_handler(upgrade=upgrade, open=open)
