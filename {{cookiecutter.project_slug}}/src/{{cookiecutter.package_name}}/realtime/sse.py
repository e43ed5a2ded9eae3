"""Server-Sent Events: async generators and h3-style push streams, on sse-starlette.

A generator's events are relayed as it yields them, with no queue between. A
push stream holds the encoded events that `push`, pub/sub messages and `close`
give it, at most `WS_SEND_BUFFER_BYTES` of them, and writes what has piled up
in one chunk. Events are encoded here rather than by sse-starlette, with the
same bytes on the wire, and a topic's message once for every stream it reaches.

Both kinds run in `_Response`, sse-starlette's response counted against
`MAX_CONNECTIONS`, which can drop its connection even while it waits in `send`
on a client that stopped reading: see `_Response.drop` and docs/design.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import struct
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, NotRequired, Protocol, TypedDict, TypeVar

import anyio
import anyio.lowlevel
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from .bus import Subscriptions
from .frames import Frame, as_text, encode, frame_text
from .hub import Hub, hub_of
from .outlet import CLOSE_TIMEOUT

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SSEEvent(TypedDict, Generic[T]):
    """An event as a generator may yield it, typed by its data: `AsyncIterator[SSEEvent[Tick]]`."""

    data: T
    event: NotRequired[str]
    id: NotRequired[str | int]
    retry: NotRequired[int]


Item = str | Mapping[str, Any] | ServerSentEvent | BaseModel
FIELDS = frozenset({"data", "event", "id", "retry", "comment"})
# Bounds the clean-up after a stream ends (unsubscribing, `on_closed` callbacks).
CLEANUP_TIMEOUT = 5.0
# sse-starlette may see the server stopping before the hub ends the stream (uvicorn's next
# tick): it then waits this long for the stream's proper end instead of cutting it short.
SHUTDOWN_GRACE = 1.5
# The most a push stream writes at once, so that a large backlog is not copied whole.
CHUNK_BYTES = 64 * 1024
# Line breaks as the SSE format knows them (not str.splitlines', which has more).
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def event_bytes(
    *,
    data: str | None = None,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """One event on the wire, byte for byte as sse-starlette's `ServerSentEvent.encode`."""
    text = ""
    if comment is not None:
        text += "".join(f": {line}\r\n" for line in _lines(comment))
    if id is not None:
        text += f"id: {_one_line(id)}\r\n"
    if event is not None:
        text += f"event: {_one_line(event)}\r\n"
    if data is not None:
        text += "".join(f"data: {line}\r\n" for line in _lines(data))
    if retry is not None:
        if not isinstance(retry, int):
            raise TypeError(f"retry must be an int, not {type(retry).__name__}")
        text += f"retry: {retry}\r\n"
    return (text + "\r\n").encode()


def _lines(text: str) -> list[str]:
    return LINE_BREAK.split(text) if "\n" in text or "\r" in text else [text]


def _one_line(text: str) -> str:
    return LINE_BREAK.sub("", text) if "\n" in text or "\r" in text else text


def to_event(item: Item) -> bytes:
    """A `str` or a model is the data; a mapping names the fields; non-text data is JSON-encoded."""
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, str | BaseModel):
        return event_bytes(data=as_text(encode(item)))
    unknown = item.keys() - FIELDS
    if unknown:
        raise ValueError(f"unknown SSE field(s) {sorted(unknown)}; use {sorted(FIELDS)}")
    data, name, event_id, comment = (item.get(key) for key in ("data", "event", "id", "comment"))
    return event_bytes(
        data=None if data is None else as_text(encode(data)),
        event=None if name is None else str(name),
        id=None if event_id is None else str(event_id),
        retry=item.get("retry"),
        comment=None if comment is None else str(comment),
    )


class _LastFrame:
    """Encodes a pub/sub frame once for all the streams that follow its topic.

    The bus hands one frame to each subscriber in turn, so the last one is all
    there is to remember. A pure cache, shared by every app in the process; one
    tuple, so that a thread (a second TestClient) never reads half of an update.
    """

    def __init__(self) -> None:
        self._last: tuple[Frame | None, str | None, bytes] = (None, None, b"")

    def event(self, frame: Frame, message_id: str | None) -> bytes:
        last, last_id, chunk = self._last
        if frame is not last or message_id != last_id:
            chunk = event_bytes(data=frame_text(frame), id=message_id)
            self._last = (frame, message_id, chunk)
        return chunk


_frames = _LastFrame()


class EventStream:
    """A push-style stream, as h3's `createEventStream`."""

    def __init__(self, request: Request, hub: Hub) -> None:
        self.id = uuid.uuid4().hex
        self.request = request
        self.closed = False
        self._hub = hub
        self._limit = hub.limits.ws_send_buffer_bytes
        self._chunks: deque[bytes] = deque()
        self._queued = 0  # bytes in `_chunks`
        self._sending = 0  # bytes of the chunk in `send`, not yet taken by the server
        self._ready = asyncio.Event()
        self._callbacks: list[Callable[[], Awaitable[None] | None]] = []
        self._subscriptions = Subscriptions(hub.bus, self)
        self._topics: set[str] = set()  # followed once the response streams
        self._streaming = False
        self._response: _Response | None = None

    @property
    def last_event_id(self) -> str | None:
        """The id a reconnecting client saw last; `?last_event_id=` for a new EventSource."""
        request = self.request
        return request.headers.get("last-event-id") or request.query_params.get("last_event_id")

    @property
    def buffered_amount(self) -> int:
        """Bytes pushed to this stream and not yet taken by the server."""
        return self._queued + self._sending

    async def push(self, item: Item) -> None:
        """Queue an event; after `close()` this does nothing."""
        self._put(to_event(item))

    def deliver(self, frame: Frame, message_id: str | None = None) -> None:
        self._put(_frames.event(frame, message_id))

    async def subscribe(self, topic: str) -> None:
        """Follow a pub/sub topic while the response streams: each message becomes an event."""
        self._topics.add(topic)
        if self._streaming and not self.closed:
            await self._subscriptions.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        await self._subscriptions.remove(topic)

    def on_closed(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        """Run `callback` once when the stream ends, whoever ends it."""
        self._callbacks.append(callback)

    async def close(self) -> None:
        """End the stream once the events already pushed are sent."""
        self.closed = True
        self._ready.set()

    def shut_down(self) -> None:
        """End now, dropping what is not sent yet."""
        self.closed = True
        self._chunks.clear()
        self._queued = 0
        self._ready.set()

    def send(self) -> EventSourceResponse:
        """The response to return from the route."""
        self._response = _Response(self, self._events(), self._hub, finish=self._clean_up)
        return self._response

    def _put(self, chunk: bytes) -> None:
        if self.closed:
            return
        if self.buffered_amount + len(chunk) > self._limit:
            logger.warning(
                "SSE client too slow (%d bytes unsent), closing %s",
                self.buffered_amount,
                self.request.url.path,
            )
            self.shut_down()
            if self._response is not None:
                self._response.drop()
            return
        self._chunks.append(chunk)
        self._queued += len(chunk)
        self._ready.set()

    def _take(self) -> bytes:
        """What has piled up, in one chunk of at most about `CHUNK_BYTES`."""
        chunks = self._chunks
        chunk = chunks.popleft()
        if chunks and len(chunk) < CHUNK_BYTES:
            taken, size = [chunk], len(chunk)
            while chunks and size < CHUNK_BYTES:
                taken.append(chunks.popleft())
                size += len(taken[-1])
            chunk = b"".join(taken)
        self._queued -= len(chunk)
        self._sending = len(chunk)
        return chunk

    async def _events(self) -> AsyncIterator[bytes]:
        self._streaming = True
        try:
            # Subscribed only now: a response that is never sent leaves no subscription behind.
            since, complete = self.last_event_id, True
            for topic in list(self._topics):
                if not self.closed:
                    complete &= await self._subscriptions.add(topic, since=since)
            if not complete:
                yield gap_event(since)
            while True:
                if not self._chunks:
                    if self.closed:
                        return
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                yield self._take()
                self._sending = 0
        finally:
            self.shut_down()
            self._sending = 0

    async def _clean_up(self) -> None:
        """Once the response is over, even if it never got to stream (dropped at once)."""
        await self._subscriptions.clear()
        for callback in self._callbacks:
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:
                logger.exception("on_closed callback failed: %s", self.request.url.path)


def gap_event(since: str | None) -> bytes:
    """Says that history no longer reaches back to `since`: some messages are lost."""
    return event_bytes(event="gap", data=as_text(encode({"since": since})))


def create_event_stream(request: Request) -> EventStream:
    return EventStream(request, hub_of(request))


class GeneratorStream:
    """Relays an async generator's events, and ends it on server shutdown.

    The generator usually waits (a ticker sleeps) inside `anext`. Shutdown then
    cancels that wait alone, in the response's own task, and the stream ends
    cleanly; a cancellation from anywhere else (the client left) goes on as usual.
    """

    def __init__(self, request: Request, items: AsyncIterator[Item]) -> None:
        self.request = request
        self.closed = False
        self._items = items
        self._waiting: asyncio.Task[Any] | None = None
        self._interrupted = False

    def shut_down(self) -> None:
        self.closed = True
        if self._waiting is not None and not self._interrupted:
            self._interrupted = True
            self._waiting.cancel()

    async def events(self) -> AsyncIterator[bytes]:
        task = asyncio.current_task()
        try:
            while not self.closed:
                self._waiting = task
                try:
                    event = to_event(await anext(self._items))
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if self._interrupted and task is not None and task.uncancel() == 0:
                        return  # cancelled by shut_down alone
                    raise
                except Exception:
                    logger.exception("SSE generator failed: %s", self.request.url.path)
                    return
                finally:
                    self._waiting = None
                yield event
        finally:
            self.closed = True
            with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
                aclose = getattr(self._items, "aclose", None)
                if aclose is not None:
                    await aclose()


def stream_response(request: Request, items: AsyncIterator[Item]) -> EventSourceResponse:
    """Serve an async generator of events."""
    stream = GeneratorStream(request, items)
    return _Response(stream, stream.events(), hub_of(request))


class _Stream(Protocol):
    request: Request

    def shut_down(self) -> None: ...


class _Response(EventSourceResponse):
    """sse-starlette's response for one stream, counted against `MAX_CONNECTIONS`.

    `drop` ends it at once, even while it waits in `send` on a client that stopped
    reading: it aborts the connection where the server lets us (uvicorn), and
    cancels the response elsewhere.
    """

    def __init__(
        self,
        stream: _Stream,
        events: AsyncIterator[bytes],
        hub: Hub,
        finish: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(
            events,
            ping=hub.limits.sse_ping_seconds,
            headers={"Cache-Control": "no-cache"},
            shutdown_grace_period=SHUTDOWN_GRACE,
        )
        self._stream = stream
        self._hub = hub
        self._finish = finish
        self._abort: Callable[[], None] | None = None
        self._cancel_scope = anyio.CancelScope()
        self._started = self._over = False
        self._complete = False  # the last body message was sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self._hub
        if hub.stopping or hub.connections >= hub.limits.max_connections:
            reason = "server shutting down" if hub.stopping else "too many connections"
            await PlainTextResponse(reason, 503)(scope, receive, send)
            return
        self._abort = _transport_abort(receive)
        self._started = True
        hub.connections += 1
        hub.open.add(self)
        try:
            with self._cancel_scope:
                await super().__call__(scope, receive, self._noting_the_end(send))
        finally:
            self._over = True
            hub.open.discard(self)
            hub.connections -= 1
            if not self._complete and self._abort is not None:
                # Cut short (sse-starlette cancels its streams on shutdown, `drop` cancels):
                # uvicorn would close the connection gracefully, waiting for a flush that a
                # stalled client never allows. Aborted, it is gone before uvicorn looks.
                self._abort()
                with anyio.CancelScope(shield=True):
                    await anyio.lowlevel.checkpoint()
            if self._finish is not None:
                with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
                    await self._finish()

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        # sse-starlette opens an anyio cancel scope around every send to apply its
        # `send_timeout`, which is never set here: a client that stops reading is
        # bounded by bytes and dropped instead. Without the scope an event costs about
        # 5 us less, a tenth of a ticker stream's CPU. (tests/test_sse.py checks that
        # sse-starlette still has the method this overrides.)
        await send(message)

    def _noting_the_end(self, send: Send) -> Send:
        async def noting(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self._complete = True

        return noting

    def shut_down(self) -> None:
        self._stream.shut_down()
        # A stream whose client stopped reading waits in `send` and would never see its end.
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.drop)

    def drop(self) -> None:
        """End the response now, and with it the connection where the server allows."""
        if not self._started or self._over:
            return  # not streaming: the stream, already ended, ends the response at once
        if self._abort is not None:
            self._abort()  # the stream's `send` returns, and the stream ends
            return
        logger.warning(
            "cannot abort %s under this server: cancelling its response instead; the "
            "connection stays open until its client reads or goes",
            self._stream.request.url.path,
        )
        self._cancel_scope.cancel()


def _transport_abort(receive: Receive) -> Callable[[], None] | None:
    """A way to reset this request's connection, found through uvicorn's `receive`.

    ASGI has no way to drop a connection. uvicorn's `receive` is a method of the
    request's cycle, which holds the transport; a middleware that wraps `receive`
    hides it, and then `drop` falls back to cancelling.
    """
    transport: Any = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None or not callable(getattr(transport, "abort", None)):
        return None

    def abort() -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # A reset, not a FIN queued behind data the client will never read: the
            # kernel frees the socket's buffers now, and the client knows at once.
            # (uvloop raises ValueError once the connection is gone.)
            with contextlib.suppress(OSError, ValueError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    return abort
