"""uvicorn's websockets-sansio protocol, with a direct way out for the app's frames.

Every coupling to uvicorn's internals lives here (tested against uvicorn 0.54:
its sansio protocol changed between 0.50 and 0.54). `serve` passes
`ws="<package>.realtime._uvicorn:RealtimeWebSocketProtocol"`; under any other
server or `--ws` the scope has no `DIRECT` extension and peers take the plain
ASGI path. What the protocol adds:

- `DIRECT` in `scope["extensions"]`: an `Outlet` that writes a message's frame,
  built once for every receiver, straight to the transport; frames queued in
  one loop step go out in one write. Offered only when no extension
  (permessage-deflate) was negotiated, since those frames are the raw payload.
- The transport's pause and resume reach the app: while paused, frames wait
  here (the app bounds them by bytes) and on resume go out together, then the
  outlet calls `on_drain`.
- A transport that uvicorn closes with unsent data (its keep-alive drops a dead
  peer, a close frame the client never reads) is aborted after `CLOSE_TIMEOUT`
  instead of waiting forever for a client that stopped reading.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import uvicorn
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from .frames import Frame
from .outlet import CLOSE_TIMEOUT, DIRECT

TESTED_WITH = "0.54."
if not uvicorn.__version__.startswith(TESTED_WITH):
    logging.getLogger(__name__).warning(
        "realtime._uvicorn is tested with uvicorn %sx, not %s: run tests/test_fastpath.py",
        TESTED_WITH,
        uvicorn.__version__,
    )


class RealtimeWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's protocol, offering each connection's `DirectOutlet` in its scope."""

    outlet: DirectOutlet | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101 and not self.conn.extensions:
            self.outlet = DirectOutlet(self)
            extensions: dict[str, object] = self.scope["extensions"]  # type: ignore[assignment]
            extensions[DIRECT] = self.outlet

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.outlet is not None:
            self.outlet.paused = True

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.outlet is not None:
            self.outlet.resume()

    async def send(self, message: ASGISendEvent) -> None:
        # What the app sends through ASGI (its close, above all) follows its frames.
        if self.outlet is not None and not self.outlet.paused:
            self.outlet.flush()
        await super().send(message)
        if message["type"] == "websocket.close" and self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(self.close_timeout, self._close_transport)

    def shutdown(self) -> None:
        super().shutdown()
        self._abort_if_stuck()

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        self._abort_if_stuck()

    def on_task_complete(self, task: asyncio.Task[None]) -> None:
        # The app's task is over and uvicorn closed the transport (a done callback,
        # not a `run_asgi` override, so that no frame of ours waits with every peer).
        super().on_task_complete(task)
        self._abort_if_stuck()

    def _close_transport(self) -> None:
        self.transport.close()
        self._abort_if_stuck()

    def _abort_if_stuck(self) -> None:
        """A closing transport waits for its buffer to drain, which a stalled client never lets."""
        if self.transport.is_closing() and self.transport.get_write_buffer_size():
            self.loop.call_later(CLOSE_TIMEOUT, self.transport.abort)


class DirectOutlet:
    """The `Outlet` of one connection: pre-built frames, written straight to its transport."""

    __slots__ = (
        "_flush_soon",
        "_high_water",
        "_pending",
        "_pending_bytes",
        "_protocol",
        "_transport",
        "on_drain",
        "paused",
    )

    def __init__(self, protocol: RealtimeWebSocketProtocol) -> None:
        self.on_drain: Callable[[], None] | None = None
        self.paused = False
        self._protocol = protocol
        self._transport = protocol.transport
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flush_soon = False
        # Past the transport's own high-water mark, waiting for the loop step's end
        # would only hold more here: write at once.
        self._high_water: int = protocol.transport.get_write_buffer_limits()[1]

    @property
    def buffered_amount(self) -> int:
        return self._pending_bytes + self._transport.get_write_buffer_size()

    @property
    def writable(self) -> bool:
        return not self.paused

    def send(self, frame: Frame) -> None:
        data = frame.wire()
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self.paused:
            return  # `resume` writes them
        if self._pending_bytes >= self._high_water:
            self.flush()
        elif not self._flush_soon:
            # Frames sent in this loop step (a burst fanned out, say) share one write.
            self._flush_soon = True
            self._protocol.loop.call_soon(self._flush_later)

    def flush(self) -> None:
        if not self._pending:
            return
        pending = self._pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self._pending = []
        self._pending_bytes = 0
        protocol = self._protocol
        # Once a close frame went (ours, the client's reply, uvicorn's), nothing follows.
        open_ = protocol.conn.state is State.OPEN and not protocol.close_sent
        if open_ and not self._transport.is_closing():
            self._transport.write(data)

    def resume(self) -> None:
        self.paused = False
        self.flush()
        if not self.paused and self.on_drain is not None:
            self.on_drain()

    def discard(self) -> None:
        self._pending = []
        self._pending_bytes = 0

    def release(self) -> None:
        self.discard()  # uvicorn ends the connection itself

    async def close(self, code: int, reason: str) -> None:
        await self._protocol.send({"type": "websocket.close", "code": code, "reason": reason})

    def abort(self) -> None:
        self._transport.abort()

    def _flush_later(self) -> None:
        self._flush_soon = False
        if not self.paused:
            self.flush()
