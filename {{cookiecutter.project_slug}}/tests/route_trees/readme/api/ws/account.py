# routes/api/ws/account.py: the browser's session cookie
from fastapi import HTTPException
from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler

SESSIONS = {"b1e8d04c": "ada"}  # your app's sessions, set when the user signed in


def upgrade(request: HTTPConnection) -> dict[str, str]:
    # Safe only because other sites' pages are refused (HTTP 403) before this runs:
    # the browser sends the cookie whichever page opens the socket.
    user = SESSIONS.get(request.cookies.get("session", ""))
    if user is None:
        raise HTTPException(403, "sign in first")
    return {"user": user}


async def open(peer: Peer) -> None:
    await peer.send(f"hello {peer.context['user']}")


handler = define_websocket_handler(upgrade=upgrade, open=open)
