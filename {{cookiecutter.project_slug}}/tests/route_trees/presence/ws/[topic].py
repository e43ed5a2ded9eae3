"""A member of a topic's presence, whose client drives it with JSON commands.

On open it subscribes with `?status=` as its presence data, tells the others
`{"joined": id}` and then itself `{"ready": id}`; on close the others hear
`{"left": id}`, sent once its presence entry is gone.
"""

from typing import Any

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler, publish


def topic(peer: Peer) -> str:
    return str(peer.params["topic"])


async def open(peer: Peer) -> None:
    await peer.subscribe(topic(peer), presence={"status": peer.request.query_params.get("status")})
    await peer.publish(topic(peer), {"joined": peer.id})
    await peer.send({"ready": peer.id})


async def message(peer: Peer, message: Message) -> None:
    command: dict[str, Any] = message.json()
    if "status" in command:  # subscribing again replaces the data
        await peer.subscribe(topic(peer), presence={"status": command["status"]})
    elif "unsubscribe" in command:
        await peer.unsubscribe(topic(peer))
    elif "bad" in command:  # data JSON cannot carry
        try:
            await peer.subscribe(topic(peer), presence={"status": {1, 2}})
        except TypeError as exc:
            await peer.send({"refused": str(exc)})
            return
    await peer.send({"done": command})


async def close(peer: Peer, code: int, reason: str) -> None:
    await publish(topic(peer), {"left": peer.id})


handler = define_websocket_handler(open=open, message=message, close=close)
