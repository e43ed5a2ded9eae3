"""A room on the topic `room` that relays what peers send, and commands that exercise
delivery: the kinds of payload, streaming with and without pacing, terminate.

Its close and drain hooks leave traces in `app.state`, which `../report.get.py` shows."""

import time
from typing import Any

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler
from {{ cookiecutter.package_name }}.realtime.outlet import DIRECT

PAYLOADS: list[Any] = [
    "plain text",
    b"\x00\xffbinary",
    {"json": [1, "two", None], "nested": {"x": 1.5}},
    "Zoë ☃ 日本語 🎉",
    "",
    b"",
    "t" * 125,
    b"b" * 126,
    "u" * 65_535,
    b"v" * 65_536,
    b"\x01" * 1_000_000,
]
CHUNK = 64 * 1024


def traces(peer: Peer) -> Any:
    app_state = peer.request.app.state
    if not hasattr(app_state, "closes"):
        app_state.closes, app_state.drains = [], {}
    return app_state


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
    drains = traces(peer).drains
    drains[str(peer)] = drains.get(str(peer), 0) + 1


def close(peer: Peer, code: int, reason: str) -> None:
    traces(peer).closes.append(
        {"peer": str(peer), "code": code, "reason": reason, "at": time.monotonic()}
    )


handler = define_websocket_handler(open=open, message=message, close=close, drain=drain)
