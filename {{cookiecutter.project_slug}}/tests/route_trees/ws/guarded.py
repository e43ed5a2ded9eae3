"""Admits only a known token; the upgrade hook's dict becomes the peer's context."""

from fastapi import HTTPException
from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler


def upgrade(request: HTTPConnection) -> dict[str, str]:
    if request.query_params.get("token") != "secret":
        raise HTTPException(401, "bad token", headers={"WWW-Authenticate": "Token"})
    return {"user": request.query_params.get("user", "anon")}


async def open(peer: Peer) -> None:
    await peer.send({"context": peer.context, "name": str(peer), "id": peer.id})


handler = define_websocket_handler(upgrade=upgrade, open=open)
