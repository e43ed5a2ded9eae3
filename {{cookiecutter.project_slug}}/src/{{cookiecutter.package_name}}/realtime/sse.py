"""Server-Sent Events: async generators and h3-style push streams, on sse-starlette.

A generator's events are relayed as it yields them, with no queue between; a
push stream is a bounded queue that `push`, pub/sub frames and `close` feed.
Either can be ended from outside (server shutdown) even while it waits: see
`GeneratorStream.shut_down`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, NotRequired, TypedDict, TypeVar

import anyio
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request

from .bus import Subscriptions
from .frames import Frame, as_text, encode, frame_text
from .hub import Hub, hub_of

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
SHUTDOWN_GRACE = 1.0


def to_event(item: Item) -> ServerSentEvent:
    """A `str` or a model is the data; a mapping names the fields; non-text data is JSON-encoded."""
    if isinstance(item, ServerSentEvent):
        return item
    if isinstance(item, str | BaseModel):
        return ServerSentEvent(data=as_text(encode(item)))
    unknown = set(item) - FIELDS
    if unknown:
        raise ValueError(f"unknown SSE field(s) {sorted(unknown)}; use {sorted(FIELDS)}")
    data, event_id = item.get("data"), item.get("id")
    return ServerSentEvent(
        data=None if data is None else as_text(encode(data)),
        event=item.get("event"),
        id=None if event_id is None else str(event_id),
        retry=item.get("retry"),
        comment=item.get("comment"),
    )


class EventStream:
    """A push-style stream, as h3's `createEventStream`."""

    def __init__(self, request: Request, hub: Hub) -> None:
        self.id = uuid.uuid4().hex
        self.request = request
        self.closed = False
        self._hub = hub
        self._queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue(256)
        self._callbacks: list[Callable[[], Awaitable[None] | None]] = []
        self._subscriptions = Subscriptions(hub.bus, self)
        self._topics: set[str] = set()  # followed once the response streams
        self._streaming = False

    @property
    def last_event_id(self) -> str | None:
        """The id a reconnecting client saw last; `?last_event_id=` for a new EventSource."""
        request = self.request
        return request.headers.get("last-event-id") or request.query_params.get("last_event_id")

    async def push(self, item: Item) -> None:
        """Queue an event; after `close()` this does nothing."""
        self._put(to_event(item))

    def deliver(self, frame: Frame, message_id: str | None = None) -> None:
        self._put(ServerSentEvent(data=frame_text(frame), id=message_id))

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
        self._end(drop_backlog=False)

    def shut_down(self) -> None:
        self._end(drop_backlog=True)

    def send(self) -> EventSourceResponse:
        """The response to return from the route."""
        return _response(self._events(), self._hub)

    def _end(self, drop_backlog: bool) -> None:
        if self.closed:
            return
        self.closed = True
        if drop_backlog or self._queue.full():
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(None)

    def _put(self, event: ServerSentEvent) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            logger.warning("SSE client too slow, closing %s", self.request.url.path)
            self.shut_down()

    async def _events(self) -> AsyncIterator[ServerSentEvent]:
        self._hub.open.add(self)
        self._streaming = True
        try:
            if self._hub.stopping:
                self.shut_down()
            # Subscribed only now: a response that is never sent leaves no subscription behind.
            since, complete = self.last_event_id, True
            for topic in list(self._topics):
                if not self.closed:
                    complete &= await self._subscriptions.add(topic, since=since)
            if not complete:
                yield gap_event(since)
            while (event := await self._queue.get()) is not None:
                yield event
        finally:
            self._hub.open.discard(self)
            self.shut_down()
            with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
                await self._clean_up()

    async def _clean_up(self) -> None:
        await self._subscriptions.clear()
        for callback in self._callbacks:
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:
                logger.exception("on_closed callback failed: %s", self.request.url.path)


def gap_event(since: str | None) -> ServerSentEvent:
    """Says that history no longer reaches back to `since`: some messages are lost."""
    return ServerSentEvent(event="gap", data=as_text(encode({"since": since})))


def create_event_stream(request: Request) -> EventStream:
    return EventStream(request, hub_of(request))


class GeneratorStream:
    """Relays an async generator's events, and ends it on server shutdown.

    The generator usually waits (a ticker sleeps) inside `anext`. Shutdown then
    cancels that wait alone, in the response's own task, and the stream ends
    cleanly; a cancellation from anywhere else (the client left) goes on as usual.
    """

    def __init__(self, request: Request, hub: Hub, items: AsyncIterator[Item]) -> None:
        self.request = request
        self.closed = False
        self._hub = hub
        self._items = items
        self._waiting: asyncio.Task[Any] | None = None
        self._interrupted = False

    def shut_down(self) -> None:
        self.closed = True
        if self._waiting is not None and not self._interrupted:
            self._interrupted = True
            self._waiting.cancel()

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        task = asyncio.current_task()
        self._hub.open.add(self)
        try:
            while not self.closed and not self._hub.stopping:
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
            self._hub.open.discard(self)
            self.closed = True
            with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
                aclose = getattr(self._items, "aclose", None)
                if aclose is not None:
                    await aclose()


def stream_response(request: Request, items: AsyncIterator[Item]) -> EventSourceResponse:
    """Serve an async generator of events."""
    return _response(GeneratorStream(request, hub_of(request), items).events(), hub_of(request))


def _response(events: AsyncIterator[ServerSentEvent], hub: Hub) -> EventSourceResponse:
    return EventSourceResponse(
        events,
        ping=hub.limits.sse_ping_seconds,
        headers={"Cache-Control": "no-cache"},
        shutdown_grace_period=SHUTDOWN_GRACE,
    )
