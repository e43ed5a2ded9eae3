"""Topics and their local subscribers; the backend carries frames to other processes.

Fan-out never waits on a receiver: `deliver` only puts the shared frame on the
receiver's own bounded queue, drained by its own writer. A receiver that cannot
keep up overflows its queue and is closed; the others never notice it (see
docs/design.md).

With history (`history_size` > 0) a message is first kept by the backend, which
gives it its id and hands it back to every process, this one included: all
deliver it in the topic's one order. Without, it is delivered here at once and
the backend only reaches the other processes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from .backends import Backend
from .backends.base import HistoryEntry, Kept, Outgoing, Retention, id_order
from .frames import Frame, encode, encode_for_id, to_frame
from .limits import Limits

logger = logging.getLogger(__name__)


class Subscriber(Protocol):
    id: str

    def deliver(self, frame: Frame, message_id: str | None = None) -> None:
        """Queue `frame` without waiting and without changing any subscription."""


class Bus:
    def __init__(
        self, backend: Backend, *, history_size: int = 0, history_ttl: float = Limits.history_ttl
    ) -> None:
        self.backend = backend
        self.retention = Retention(history_size, history_ttl)
        self._topics: dict[str, set[Subscriber]] = {}
        # Set once the backend confirmed a topic's subscription: a replay read before
        # then could miss what is published between the read and the confirmation.
        self._ready: dict[str, asyncio.Future[None]] = {}
        self._catchers: dict[tuple[str, Subscriber], _Catcher] = {}
        self._newest: dict[str, str] = {}  # the id last delivered here, per followed topic
        self._catching_up: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.backend.connect(self._fan_out, self._resume)

    async def stop(self) -> None:
        for task in list(self._catching_up):
            task.cancel()
        await self.backend.disconnect()

    async def subscribe(
        self, topic: str, subscriber: Subscriber, *, since: str | None = None, last: int = 0
    ) -> bool:
        """Follow `topic`: what history keeps after `since` (or its newest `last`), then live.

        False when history no longer reaches back to `since`; what it keeps is sent anyway.
        """
        _check(since, last, "last")
        if since is None and not last:
            await self._join(topic, subscriber)
            return True
        # Live first, held back while history is read, so that nothing falls between the two.
        catcher = _Catcher(subscriber, functools.partial(self._go_live, topic, subscriber))
        self._catchers[topic, subscriber] = catcher
        kept = Kept([], complete=False)
        try:
            await self._join(topic, catcher)
            kept = await self.history(topic, since, None if since is not None else last)
        finally:
            self._replay(topic, subscriber, catcher, _frames(kept.entries))
        return kept.complete

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        member = self._catchers.pop((topic, subscriber), subscriber)
        subscribers = self._topics.get(topic)
        if subscribers is None or member not in subscribers:
            return
        subscribers.remove(member)
        if not subscribers:
            del self._topics[topic]
            self._ready.pop(topic, None)
            self._newest.pop(topic, None)
            await self.backend.unsubscribe(topic)

    async def publish(
        self,
        topic: str,
        data: Any,
        *,
        sender: Subscriber | None = None,
        id_field: str | None = None,
    ) -> str | None:
        """Send `data` to every subscriber of `topic`, in every process, except `sender`.

        Returns its id when history keeps it; with `id_field`, every copy has it under that key.
        """
        payload = encode(data) if id_field is None else encode_for_id(data, id_field)
        message = Outgoing(payload, id_field, None if sender is None else sender.id)
        if self.retention.size:
            message_id = await self.backend.append(topic, message, self.retention)
            if message_id is not None:
                return message_id  # delivered by the backend, here as everywhere
        # No history, or the broker is unreachable: this process at least gets it at once.
        frame = to_frame(message.entry_data(None))
        self._fan_out(topic, frame, None, message.sender)
        if not self.retention.size:
            await self.backend.publish(topic, frame)
        return None

    async def history(self, topic: str, since: str | None = None, limit: int | None = None) -> Kept:
        _check(since, limit)
        if not self.retention.size:
            return Kept([], complete=since is None)
        return await self.backend.history(topic, since, limit, self.retention)

    def subscribers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    @property
    def topics(self) -> list[str]:
        return list(self._topics)

    async def _join(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self._topics.setdefault(topic, set())
        subscribers.add(subscriber)
        if len(subscribers) == 1:
            confirmed = self._ready[topic] = asyncio.get_running_loop().create_future()
            try:
                await self.backend.subscribe(topic)
            finally:
                confirmed.set_result(None)
        elif (ready := self._ready.get(topic)) is not None:
            await asyncio.shield(ready)

    def _replay(
        self, topic: str, subscriber: Subscriber, catcher: _Catcher, replay: list[Replayed]
    ) -> None:
        """Send the replay, then what arrived live meanwhile and is not in it; then go live."""
        if self._catchers.get((topic, subscriber)) is not catcher:
            return  # unsubscribed meanwhile
        for frame, message_id in replay:
            subscriber.deliver(frame, message_id)
        if catcher.replayed(id_order(replay[-1][1]) if replay else None):
            self._go_live(topic, subscriber, catcher)

    def _go_live(self, topic: str, subscriber: Subscriber, catcher: _Catcher) -> None:
        if self._catchers.get((topic, subscriber)) is catcher:
            del self._catchers[topic, subscriber]
            subscribers = self._topics[topic]
            subscribers.discard(catcher)
            subscribers.add(subscriber)

    def _fan_out(
        self, topic: str, frame: Frame, message_id: str | None = None, sender: str | None = None
    ) -> None:
        subscribers = self._topics.get(topic)
        if not subscribers:
            return
        if message_id is not None:
            self._newest[topic] = message_id
        # Iterating the live set is safe: `deliver` never changes subscriptions.
        for subscriber in subscribers:
            if sender is None or subscriber.id != sender:
                subscriber.deliver(frame, message_id)

    def _resume(self) -> None:
        """The backend lost its link for a while: fetch what each followed topic missed."""
        for topic in list(self._newest):
            task = asyncio.create_task(self._catch_up(topic), name=f"catch up {topic}")
            self._catching_up.add(task)
            task.add_done_callback(self._catching_up.discard)

    async def _catch_up(self, topic: str) -> None:
        """Replay to this topic's subscribers what history kept after the last id they got."""
        since, subscribers = self._newest.get(topic), self._topics.get(topic)
        if since is None or not subscribers:
            return
        members = list(subscribers)
        catchers: list[tuple[Subscriber, _Catcher]] = []
        for subscriber in members:
            if not isinstance(subscriber, _Catcher):
                catcher = _Catcher(subscriber, functools.partial(self._go_live, topic, subscriber))
                self._catchers[topic, subscriber] = catcher
                subscribers.discard(subscriber)
                subscribers.add(catcher)
                catchers.append((subscriber, catcher))
        kept = Kept([], complete=False)
        try:
            kept = await self.history(topic, since)
        finally:
            replay = _frames(kept.entries)
            for subscriber, catcher in catchers:
                self._replay(topic, subscriber, catcher, replay)
            for member in members:
                if isinstance(member, _Catcher):  # replayed to already: it drops what it had
                    for frame, message_id in replay:
                        member.deliver(frame, message_id)
        if kept.entries and topic in self._newest:  # the replay went around `_fan_out`
            self._newest[topic] = max(self._newest[topic], kept.entries[-1].id, key=_order)
        if not kept.complete:
            logger.warning("messages on %r were lost while the broker was unreachable", topic)


def _check(since: str | None, count: int | None, name: str = "limit") -> None:
    """Refuse bad arguments before anything changes."""
    if count is not None and count < 0:
        raise ValueError(f"{name} must be 0 or more, not {count}")
    if since is not None and not isinstance(since, str):
        raise TypeError(f"since must be a message id (str), not {type(since).__name__}")


Replayed = tuple[Frame, str]  # a kept message's frame, built once for every subscriber, and id


def _frames(entries: list[HistoryEntry]) -> list[Replayed]:
    return [(to_frame(entry.data), entry.id) for entry in entries]


def _order(message_id: str) -> tuple[int, int]:
    return id_order(message_id) or (0, 0)


class _Catcher:
    """Stands in for a subscriber while its replay is read, then until live catches up with it.

    What arrives while history is read is held back. The replay may also end
    before copies of its last messages come in live (history and pub/sub are two
    connections): those are dropped, up to the first message newer than the
    replay, from which on the subscriber itself takes the catcher's place.
    """

    def __init__(self, subscriber: Subscriber, go_live: Callable[[_Catcher], None]) -> None:
        self.id = subscriber.id
        self._subscriber, self._go_live = subscriber, go_live
        self._caught: list[tuple[Frame, str | None]] | None = []
        self._newest: tuple[int, int] | None = None

    def replayed(self, newest: tuple[int, int] | None) -> bool:
        """Send on what was held back and is newer than `newest`; whether live caught up."""
        caught, self._caught, self._newest = self._caught or [], None, newest
        for frame, message_id in caught:
            self.deliver(frame, message_id)
        return self._newest is None

    def deliver(self, frame: Frame, message_id: str | None = None) -> None:
        if self._caught is not None:
            self._caught.append((frame, message_id))
            return
        order = None if message_id is None else id_order(message_id)
        if self._newest is not None and order is not None and order <= self._newest:
            return  # in the replay already
        self._subscriber.deliver(frame, message_id)
        if order is not None and self._newest is not None:
            self._newest = None  # caught up: the subscriber takes over once the fan-out is done
            asyncio.get_running_loop().call_soon(self._go_live, self)


class Subscriptions:
    """The topics one subscriber follows, kept in step with the bus."""

    def __init__(self, bus: Bus, subscriber: Subscriber) -> None:
        self.topics: set[str] = set()
        self._bus = bus
        self._subscriber = subscriber

    async def add(self, topic: str, *, since: str | None = None, last: int = 0) -> bool:
        """Follow `topic`, replaying from `since` or the newest `last` (see `Bus.subscribe`)."""
        if topic in self.topics:
            return True
        self.topics.add(topic)
        return await self._bus.subscribe(topic, self._subscriber, since=since, last=last)

    async def remove(self, topic: str) -> None:
        if topic in self.topics:
            self.topics.remove(topic)
            await self._bus.unsubscribe(topic, self._subscriber)

    async def clear(self) -> None:
        for topic in list(self.topics):
            await self.remove(topic)
