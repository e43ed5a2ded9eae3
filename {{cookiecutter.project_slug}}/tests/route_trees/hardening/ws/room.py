"""A room on the topic `room`. Its hooks leave traces: in `app.state.events` when a
test sets it to a list, and a line on stdout per close for tests of a real server."""

from typing import Any

from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


def record(connection: HTTPConnection, *event: Any) -> None:
    events = getattr(connection.app.state, "events", None)
    if events is not None:
        events.append(event)


def upgrade(request: HTTPConnection) -> None:
    record(request, "upgrade")


async def open(peer: Peer) -> None:
    record(peer.request, "open", str(peer))
    await peer.subscribe("room")
    await peer.send(f"ready {peer}")


async def message(peer: Peer, message: Message) -> None:
    if message.text() == "bye":
        await peer.close(4000, "bye")
        return
    await peer.publish("room", message.data)


async def close(peer: Peer, code: int, reason: str) -> None:
    record(peer.request, "close", str(peer), code)
    print(f"close hook {peer} {code}", flush=True)


async def error(peer: Peer, exc: Exception) -> None:
    record(peer.request, "error", str(peer), type(exc).__name__)
    await peer.send({"error": type(exc).__name__})


handler = define_websocket_handler(
    upgrade=upgrade, open=open, message=message, close=close, error=error
)
