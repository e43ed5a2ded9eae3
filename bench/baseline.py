"""The baselines: a plain Starlette relay, a bare sse-starlette ticker and SSE followers of the relay.

(uvicorn `baseline:app`.)

Each does per message what the generated app does, with nothing of the app around it:
the relay receives a text and, for every other socket, puts it on that socket's
queue, drained by the socket's own writer task with `send_text`. The queue holds
`BASELINE_SEND_QUEUE` texts (256), and a socket whose queue overflows is closed
with 1013, as the app's peers are; `BASELINE_SEND_QUEUE=0` makes it unbounded,
what a plain Starlette relay usually is, for the bursts (see README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

SEND_QUEUE = int(os.environ.get("BASELINE_SEND_QUEUE", "256"))  # 0: unbounded
SSE_PING_SECONDS = float(os.environ.get("SSE_PING_SECONDS", "15"))

sockets: dict[WebSocket, asyncio.Queue[str]] = {}
streams: set[asyncio.Queue[str]] = set()  # SSE followers of the relay, unbounded
closing: set[asyncio.Task[None]] = set()


async def write(websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
    with contextlib.suppress(Exception):
        while True:
            await websocket.send_text(await queue.get())


async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    queue: asyncio.Queue[str] = asyncio.Queue(SEND_QUEUE)
    writer = asyncio.create_task(write(websocket, queue))
    sockets[websocket] = queue
    try:
        while (event := await websocket.receive())["type"] == "websocket.receive":
            text = event["text"]
            full = []
            for other, other_queue in sockets.items():
                if other is not websocket:
                    try:
                        other_queue.put_nowait(text)
                    except asyncio.QueueFull:
                        full.append(other)
            for other in full:
                close_slow(other)
            for stream in streams:
                stream.put_nowait(text)
    finally:
        sockets.pop(websocket, None)
        writer.cancel()


def close_slow(websocket: WebSocket) -> None:
    sockets.pop(websocket, None)
    closing.add(task := asyncio.create_task(websocket.close(1013, "send queue full")))
    task.add_done_callback(closing.discard)


async def ticker(request: Request) -> EventSourceResponse:
    async def ticks() -> AsyncIterator[dict[str, str]]:
        count = 1
        while True:
            now = datetime.now(UTC).isoformat(timespec="milliseconds")
            data = json.dumps({"count": count, "time": now}, separators=(",", ":"))
            yield {"event": "tick", "id": str(count), "data": data}
            count += 1
            await asyncio.sleep(1.0)

    return EventSourceResponse(ticks(), ping=SSE_PING_SECONDS, headers={"Cache-Control": "no-cache"})


async def follow(request: Request) -> EventSourceResponse:
    """What a plain sse-starlette user writes to follow a relay: a queue and a generator."""

    async def events() -> AsyncIterator[dict[str, str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        streams.add(queue)
        try:
            while True:
                yield {"data": await queue.get()}
        finally:
            streams.discard(queue)

    return EventSourceResponse(events(), ping=SSE_PING_SECONDS, headers={"Cache-Control": "no-cache"})


app = Starlette(
    routes=[
        WebSocketRoute("/ws/relay", relay),
        Route("/api/sse", ticker),
        Route("/sse/follow", follow),
    ]
)
