"""Server-Sent Events: async generators and h3-style push streams, on sse-starlette.

Every response goes through an `EventStream`: one bounded queue read by
sse-starlette, so a stream can be ended from outside (`close()`, server
shutdown) even while its generator sleeps, and pub/sub frames can join it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request

from .frames import Frame, as_text, encode, frame_text
from .hub import Hub, hub_of

logger = logging.getLogger(__name__)

Item = str | Mapping[str, Any] | ServerSentEvent
FIELDS = frozenset({"data", "event", "id", "retry", "comment"})
# Bounds the clean-up after a stream ends (unsubscribing, `on_closed` callbacks).
CLEANUP_TIMEOUT = 5.0


def to_event(item: Item) -> ServerSentEvent:
    """A `str` is the data; a mapping names the fields; non-text data is JSON-encoded once."""
    if isinstance(item, ServerSentEvent):
        return item
    if isinstance(item, str):
        return ServerSentEvent(data=item)
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

    def __init__(
        self, request: Request, hub: Hub, source: AsyncIterator[Item] | None = None
    ) -> None:
        self.request = request
        self.closed = False
        self._hub = hub
        self._source = source
        self._queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue(hub.limits.send_queue)
        self._callbacks: list[Callable[[], Awaitable[None] | None]] = []
        self._topics: set[str] = set()

    @property
    def last_event_id(self) -> str | None:
        return self.request.headers.get("last-event-id")

    async def push(self, item: Item) -> None:
        """Queue an event; after `close()` this does nothing."""
        self._put(to_event(item))

    def deliver(self, frame: Frame) -> None:
        self._put(ServerSentEvent(data=frame_text(frame)))

    async def subscribe(self, topic: str) -> None:
        """Follow a pub/sub topic: each message published on it becomes an event."""
        if not self.closed and topic not in self._topics:
            self._topics.add(topic)
            await self._hub.bus.subscribe(topic, self)

    async def unsubscribe(self, topic: str) -> None:
        if topic in self._topics:
            self._topics.remove(topic)
            await self._hub.bus.unsubscribe(topic, self)

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
        return EventSourceResponse(
            self._events(),
            ping=self._hub.limits.sse_ping_seconds,
            headers={"Cache-Control": "no-cache"},
        )

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
        pump = asyncio.create_task(self._pump()) if self._source is not None else None
        try:
            if self._hub.stopping:
                self.shut_down()
            while (event := await self._queue.get()) is not None:
                yield event
        finally:
            self._hub.open.discard(self)
            self.shut_down()
            with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
                if pump is not None:
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pump
                await self._clean_up()

    async def _pump(self) -> None:
        assert self._source is not None
        try:
            async for item in self._source:
                if self.closed:
                    break
                await self._queue.put(to_event(item))
        except Exception:
            logger.exception("SSE generator failed: %s", self.request.url.path)
        finally:
            aclose = getattr(self._source, "aclose", None)
            if aclose is not None:
                await aclose()
            self._end(drop_backlog=False)

    async def _clean_up(self) -> None:
        for topic in list(self._topics):
            await self.unsubscribe(topic)
        for callback in self._callbacks:
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:
                logger.exception("on_closed callback failed: %s", self.request.url.path)


def create_event_stream(request: Request) -> EventStream:
    return EventStream(request, hub_of(request))


def stream_response(request: Request, items: AsyncIterator[Item]) -> EventSourceResponse:
    """Serve an async generator of events."""
    return EventStream(request, hub_of(request), source=items).send()
