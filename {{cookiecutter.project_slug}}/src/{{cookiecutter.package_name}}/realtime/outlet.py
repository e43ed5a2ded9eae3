"""Where a peer's frames go: straight to the server's transport, or through ASGI `send`.

A server may offer an `Outlet` in the connection's scope, under `DIRECT`
(`_uvicorn.py` does, for uvicorn's websockets-sansio protocol): it writes each
message's pre-built frame to the socket and tells when its buffer drains. Any
other server gets `AsgiOutlet`, a writer task per connection with the same byte
accounting, and no way to abort (see docs/design.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.types import Message
from starlette.websockets import WebSocketDisconnect

from .frames import Frame

# The ASGI extension, in `scope["extensions"]`, whose value is an `Outlet`.
DIRECT = "realtime.direct"
# How long a close frame may wait for a peer that stopped reading before the
# connection is aborted: its socket would otherwise stay open until shutdown.
CLOSE_TIMEOUT = 2.0
# Unsent bytes above which the ASGI path stops being writable, and below which it
# drains again: asyncio's own defaults for a transport's write buffer.
HIGH_WATER = 64 * 1024
LOW_WATER = HIGH_WATER // 4


class Outlet(Protocol):
    """One connection's way out. `send` never waits, keeps order, and after `close`
    nothing goes; a frame is written whole or not at all."""

    on_drain: Callable[[], None] | None  # called when it becomes writable again

    @property
    def buffered_amount(self) -> int:
        """Bytes given to `send` and not yet written to the socket."""

    @property
    def writable(self) -> bool:
        """False from passing the high-water mark until drained below the low one."""

    def send(self, frame: Frame) -> None: ...

    def discard(self) -> None:
        """Drop the frames not yet handed to the server."""

    def release(self) -> None:
        """The connection is over: drop what is left and stop."""

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame after what is queued; return once the server took it."""

    def abort(self) -> None:
        """Drop the connection with no close frame, where the server allows it."""


class AsgiOutlet:
    """The plain ASGI path: a writer task drains a byte-counted queue through `send`."""

    def __init__(self, send: Callable[[Message], Awaitable[None]]) -> None:
        self.on_drain: Callable[[], None] | None = None
        self._send = send
        self._frames: deque[Frame] = deque()
        self._queued = 0  # bytes in `_frames`
        self._sending = 0  # bytes of the frame `send` is writing
        self._above = False
        self._ready = asyncio.Event()
        self._close: Message | None = None
        self._closed = asyncio.Event()
        self._writer = asyncio.create_task(self._write())

    @property
    def buffered_amount(self) -> int:
        # ASGI cannot see the server's own write buffer: only what waits here.
        return self._queued + self._sending

    @property
    def writable(self) -> bool:
        return not self._above

    def send(self, frame: Frame) -> None:
        self._frames.append(frame)
        self._queued += len(frame.wire())
        if self._queued > HIGH_WATER:
            self._above = True
        self._ready.set()

    def discard(self) -> None:
        self._frames.clear()
        self._queued = 0

    def release(self) -> None:
        self.discard()
        self._writer.cancel()

    async def close(self, code: int, reason: str) -> None:
        self._close = {"type": "websocket.close", "code": code, "reason": reason}
        self._ready.set()
        await self._closed.wait()

    def abort(self) -> None:
        # ASGI has no abort: stop writing; the connection ends when the app returns.
        self._writer.cancel()

    async def _write(self) -> None:
        with contextlib.suppress(*GONE):
            try:
                await self._drain_queue()
            finally:
                self._closed.set()  # sent, or never will be

    async def _drain_queue(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._frames:
                frame = self._frames.popleft()
                self._sending = size = len(frame.wire())
                self._queued -= size
                await self._send(frame)
                self._sending = 0
                if self._above and self._queued <= LOW_WATER:
                    self._above = False
                    if self.on_drain is not None:
                        self.on_drain()
            if self._close is not None:
                await self._send(self._close)
                return


# What sending raises once the client has gone or the close is under way.
GONE = (OSError, RuntimeError, WebSocketDisconnect)
