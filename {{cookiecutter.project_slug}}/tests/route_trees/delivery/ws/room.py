"""A room on the topic `room` that relays what peers send, and commands that exercise
delivery: the kinds of payload, streaming with and without pacing, terminate.

Its close and drain hooks leave traces (`_traces.py`) that `report.get.py` shows."""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler
from {{ cookiecutter.package_name }}.realtime.outlet import DIRECT

from .._payloads import PAYLOADS
from .._traces import record_close, traces

CHUNK = 64 * 1024


async def open(peer: Peer) -> None:
    await peer.subscribe("room")
    path = "direct" if DIRECT in peer.request.scope.get("extensions", {}) else "asgi"
    await peer.send(f"ready {path}")


async def message(peer: Peer, message: Message) -> None:
    text = message.data if isinstance(message.data, str) else ""
    command, _, argument = text.partition(" ")
    if command == "payloads":
        for payload in PAYLOADS:
            await peer.send(payload)
        await peer.send("end")
    elif command == "stream":  # paced: never more than the high-water mark waits
        most = 0
        for _ in range(int(argument) // CHUNK):
            await peer.send(b"s" * CHUNK)
            most = max(most, peer.buffered_amount)
            await peer.wait_for_drain()
        await peer.send(f"streamed, at most {most} bytes waiting")
    elif command == "flood":  # the same, unpaced
        for _ in range(int(argument) // CHUNK):
            await peer.send(b"f" * CHUNK)
    elif command == "terminate":
        peer.terminate()
    elif command == "close":
        await peer.close(4000, "asked to")
    else:
        await peer.publish("room", message.data)


def drain(peer: Peer) -> None:
    drains = traces(peer.request.app.state).drains
    drains[str(peer)] = drains.get(str(peer), 0) + 1


def close(peer: Peer, code: int, reason: str) -> None:
    record_close(peer.request.app.state, str(peer), code, reason)


handler = define_websocket_handler(open=open, message=message, close=close, drain=drain)
