"""A WebSocket peer: what handlers see of one connection, and its outgoing queue."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

from .bus import Subscriptions
from .frames import Frame, to_frame
from .hub import Hub
from .presence import member

# How long a close frame may wait for a peer that stopped reading before the
# connection is aborted: its socket would otherwise stay open until shutdown.
CLOSE_TIMEOUT = 2.0
# Set by `AbortMiddleware` when the server lets us reach the transport.
ABORT_KEY = "realtime.abort"


class Peer:
    """One connected client. Everything it is sent goes through a bounded queue.

    Its writer task drains the queue; when the client reads too slowly the queue
    overflows and the peer is closed with 1013, so it never slows the others.
    """

    def __init__(
        self, websocket: WebSocket, hub: Hub, context: dict[str, Any], namespace: str = ""
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
        self._queue: asyncio.Queue[Frame] = asyncio.Queue(hub.limits.ws_send_queue)
        self._writer = asyncio.create_task(self._write())
        self._abort: Callable[[], None] | None = websocket.scope.get(ABORT_KEY)

    def __str__(self) -> str:
        return self.id[:8]

    def __repr__(self) -> str:
        return f"<Peer {self} {self.request.url.path}>"

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._subscriptions.topics)

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
        `presence` is this peer's data in `presence(topic)` (default {}).
        A topic the peer follows already is left as it is, and True.
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

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close after what is already queued has been sent."""
        if self.closing:
            return
        self.closing = True
        try:
            self._queue.put_nowait(_close_frame(code, reason))
        except asyncio.QueueFull:
            self.terminate(code, reason)

    def deliver(self, frame: Frame, message_id: str | None = None) -> None:
        if self.closing:
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.terminate(1013, "send queue full")

    def terminate(self, code: int, reason: str) -> None:
        """Close now: drop the backlog and stop a send that may never finish."""
        self.closing = True
        self._writer.cancel()
        self._writer = asyncio.create_task(self._send_close(_close_frame(code, reason)))

    def shut_down(self) -> None:
        self.terminate(1001, "server shutting down")

    async def finish(self) -> None:
        """Release everything the peer holds once its connection is over."""
        self.closing = True
        self._writer.cancel()
        await self._hub.presence.leave(self.id, self.topics)
        await self._subscriptions.clear()

    async def _write(self) -> None:
        send = self._websocket.send
        with contextlib.suppress(*_GONE):
            while (frame := await self._queue.get())["type"] == "websocket.send":
                await send(frame)
            await self._send_close(frame)

    async def _send_close(self, frame: Frame) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self._websocket.send(frame)
        except TimeoutError:
            if self._abort is not None:
                self._abort()
        except _GONE:
            pass


# What sending raises once the client has gone or the close is under way.
_GONE = (OSError, RuntimeError, WebSocketDisconnect)


def _close_frame(code: int, reason: str) -> Frame:
    return {"type": "websocket.close", "code": code, "reason": reason}
