"""A WebSocket peer: what handlers see of one connection, and its byte-bounded way out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Message
from starlette.websockets import WebSocket

from .bus import Subscriptions
from .frames import Frame, to_frame
from .hub import Hub
from .outlet import CLOSE_TIMEOUT, DIRECT, GONE, HIGH_WATER, AsgiOutlet, Outlet
from .presence import member

# Close codes (RFC 6455 section 7.4.1).
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013
# Never on the wire: what the `close` hook sees when the connection was dropped.
ABNORMAL_CLOSURE = 1006
SEND_BUFFER_FULL = "send buffer full"


class Peer:
    """One connected client. What it is sent goes out at once, or waits, bounded by bytes.

    When the client reads too slowly, its unsent data passes `WS_SEND_BUFFER_BYTES`
    and the peer is closed with 1013, so that it never slows the others.
    """

    # Slots: one per connection, for as long as it is open. What a handler keeps
    # about a peer goes in `context`.
    __slots__ = (
        "_direct",
        "_drain_hook",
        "_drain_waiter",
        "_dropped",
        "_hub",
        "_limit",
        "_outlet",
        "_receiver",
        "_subscriptions",
        "_tasks",
        "_unyielded",
        "_websocket",
        "closing",
        "context",
        "id",
        "namespace",
        "params",
        "request",
    )

    def __init__(
        self,
        websocket: WebSocket,
        hub: Hub,
        context: dict[str, Any],
        namespace: str = "",
        drain: Callable[[Peer], Awaitable[None]] | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.request: HTTPConnection = websocket
        self.params: dict[str, Any] = dict(websocket.path_params)
        self.context = context
        self.namespace = namespace
        self.closing = False
        self._websocket = websocket
        self._hub = hub
        self._subscriptions = Subscriptions(hub.bus, self)
        self._limit = hub.limits.ws_send_buffer_bytes
        direct: Outlet | None = websocket.scope.get("extensions", {}).get(DIRECT)
        self._direct = direct is not None
        self._outlet: Outlet = direct if direct is not None else AsgiOutlet(websocket.send)
        self._outlet.on_drain = self._drained
        self._drain_hook = drain
        # Made when first needed: most peers never wait, drop or run a hook in a task.
        self._drain_waiter: asyncio.Future[None] | None = None
        self._dropped: Message | None = None  # the disconnect `receive` reports once dropped
        self._receiver: asyncio.Task[Any] | None = None  # awaiting `receive` on the ASGI path
        self._unyielded = 0  # bytes received on the ASGI path since the writers last ran
        self._tasks: set[asyncio.Task[None]] | None = None  # closes and drain hooks under way

    def __str__(self) -> str:
        return self.id[:8]

    def __repr__(self) -> str:
        return f"<Peer {self} {self.request.url.path}>"

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._subscriptions.topics)

    @property
    def buffered_amount(self) -> int:
        """Bytes sent to this peer and not yet written to its socket."""
        return self._outlet.buffered_amount

    @property
    def peers(self) -> frozenset[Peer]:
        """The open peers of this peer's namespace in this process, itself included."""
        return self._hub.peers(self.namespace)

    @property
    def remote_address(self) -> str | None:
        client = self.request.client
        return client.host if client else None

    async def send(self, data: Any) -> None:
        self.deliver(to_frame(data))

    async def publish(self, topic: str, data: Any, *, id_field: str | None = None) -> str | None:
        """Send to every subscriber of `topic` but this peer; returns the message id, if kept."""
        return await self._hub.bus.publish(topic, data, sender=self, id_field=id_field)

    async def subscribe(
        self,
        topic: str,
        *,
        since: str | None = None,
        last: int = 0,
        presence: Mapping[str, Any] | None = None,
    ) -> bool:
        """Follow `topic`: first the kept messages after `since` (or the newest `last`), then live.

        False when history no longer reached back to `since`; what it keeps is sent anyway.
        `presence` is this peer's data in `presence(topic)` (default {}). A topic the peer
        follows already gets no replay and True; its presence data is replaced.
        """
        entry = member(self.id, str(self), presence)  # bad data raises before anything changes
        if self.closing:
            return False
        complete = await self._subscriptions.add(topic, since=since, last=last)
        await self._hub.presence.join(topic, entry)
        if topic not in self._subscriptions.topics:  # unsubscribed or finished meanwhile
            await self._hub.presence.leave(self.id, [topic])
        return complete

    async def unsubscribe(self, topic: str) -> None:
        await self._hub.presence.leave(self.id, [topic])
        await self._subscriptions.remove(topic)

    async def wait_for_drain(self) -> None:
        """Return once unsent data is below the high-water mark (at once if it is)."""
        while not self._outlet.writable and not self.closing:
            if self._drain_waiter is None or self._drain_waiter.done():
                self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close after what is already sent; abort if that cannot be done in CLOSE_TIMEOUT."""
        if not self.closing:
            self._stop_sending()
            self._start(self._send_close(code, reason))

    def terminate(self) -> None:
        """Drop the connection now, with no close handshake; `close` sees 1006."""
        self._stop_sending(discard=True)
        self._drop(ABNORMAL_CLOSURE, "")

    def deliver(self, frame: Frame, message_id: str | None = None) -> None:
        if self.closing:
            return
        outlet = self._outlet
        if outlet.buffered_amount + len(frame.wire()) > self._limit:
            self._close_now(TRY_AGAIN_LATER, SEND_BUFFER_FULL)
        else:
            outlet.send(frame)

    def _close_now(self, code: int, reason: str) -> None:
        """Close at once: drop the backlog, and abort if the close frame cannot go."""
        self._stop_sending(discard=True)
        self._start(self._send_close(code, reason))

    def shut_down(self) -> None:
        self._close_now(GOING_AWAY, "server shutting down")

    def receive(self) -> Awaitable[Message]:
        """The client's next event (see `closed_with` for how a dropped peer's ends)."""
        if self._direct:
            # A dropped connection's transport was aborted: uvicorn reports the disconnect.
            # Starlette's own `receive`, with no frame of ours held while a peer is idle.
            return self._websocket.receive()
        return self._receive_asgi()

    def closed_with(self, disconnect: Message) -> tuple[int, str]:
        """The code and reason the session ended with: those it was dropped with, if it was."""
        event = self._dropped or disconnect
        return event.get("code", 1005), event.get("reason") or ""

    async def _receive_asgi(self) -> Message:
        if self._dropped is not None:
            return self._dropped
        # ASGI has no abort: `_drop` interrupts the wait instead.
        self._receiver = task = asyncio.current_task()
        try:
            event = await self._websocket.receive()
        except asyncio.CancelledError:
            if self._dropped is None or task is None or task.uncancel():
                raise
            return self._dropped
        finally:
            self._receiver = None
        # What this peer publishes is queued for writer tasks, which run only when this
        # loop waits: let them, every HIGH_WATER bytes received, so that a burst read
        # from one socket never piles up in every receiver before any is written.
        self._unyielded += len(event.get("text") or event.get("bytes") or b"")
        if self._unyielded >= HIGH_WATER:
            self._unyielded = 0
            await asyncio.sleep(0)
        return event

    async def finish(self) -> None:
        """Release everything the peer holds once its connection is over."""
        self._stop_sending()
        self._outlet.release()
        await self._hub.presence.leave(self.id, self.topics)
        await self._subscriptions.clear()

    def _stop_sending(self, discard: bool = False) -> None:
        self.closing = True
        self._wake_drain_waiter()  # a handler waiting to send more has nothing to wait for
        if discard:
            self._outlet.discard()

    def _drop(self, code: int, reason: str) -> None:
        if self._dropped is None:
            self._dropped = {"type": "websocket.disconnect", "code": code, "reason": reason}
            if self._receiver is not None:
                self._receiver.cancel()
        self._outlet.abort()

    async def _send_close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self._outlet.close(code, reason)
        except TimeoutError:
            self._drop(code, reason)
        except GONE:
            pass

    def _drained(self) -> None:
        self._wake_drain_waiter()
        if self._drain_hook is not None and not self.closing:
            self._start(self._drain_hook(self))

    def _start(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _wake_drain_waiter(self) -> None:
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
