"""A chat with rooms: names, the last messages on arrival, recovery after a drop, who is online.

Connect to /api/ws/rooms/{room}?name=<1 to 32 characters>[&since=<the last message id seen>].
"""

from fastapi import HTTPException
from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler, publish
from {{ cookiecutter.package_name }}.routes.api.rooms._rooms import (
    ARRIVAL_REPLAY,
    NAME_LENGTH,
    Frame,
    Gap,
    Moved,
    Said,
    Say,
    members,
    online,
    texts,
)


def upgrade(request: HTTPConnection) -> dict[str, str]:
    name = request.query_params.get("name", "")
    shortest, longest = NAME_LENGTH
    if not shortest <= len(name) <= longest:
        raise HTTPException(400, f"?name= must be {shortest} to {longest} characters")
    return {"room": request.path_params["room"], "name": name}


async def open(peer: Peer) -> None:
    room, name = peer.context["room"], peer.context["name"]
    # What the client missed comes first, then the gap if there is one, then live messages.
    since = peer.request.query_params.get("since") or None
    complete = await peer.subscribe(texts(room), since=since, last=0 if since else ARRIVAL_REPLAY)
    if not complete:
        await peer.send(Gap())
    # A second connection under a name already in the room brings nobody new.
    arrived = name not in await online(room)
    await peer.subscribe(members(room), presence={"name": name})
    if arrived:
        await peer.publish(members(room), Moved(type="join", room=room, user=name))


async def message(peer: Peer, message: Say) -> None:
    # Published to everyone, the sender too: each copy comes back in the broker's one order.
    said = Said(room=peer.context["room"], user=peer.context["name"], text=message.text)
    await publish(texts(said.room), said, id_field="id")


async def close(peer: Peer, code: int, reason: str) -> None:
    # The peer's subscriptions, and with them its presence, are gone by now.
    room, name = peer.context["room"], peer.context["name"]
    if name not in await online(room):
        await publish(members(room), Moved(type="leave", room=room, user=name))


handler = define_websocket_handler(
    upgrade=upgrade, open=open, message=message, close=close, sends=Frame
)
