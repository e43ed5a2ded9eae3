"""`memory://`: one process, so there is nobody else to reach; history lives in this process.

Each topic's history is a bounded deque, numbered as Redis numbers a stream
(`<milliseconds>-<sequence>`, increasing even if the clock steps back), so an
id means the same on either backend. It forgets everything on restart.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from ..frames import Frame, to_frame
from .base import (
    Backend,
    HistoryEntry,
    Kept,
    OnMessage,
    OnResume,
    Outgoing,
    Retention,
    id_order,
)


@dataclass(frozen=True, slots=True)
class _Kept:
    entry: HistoryEntry
    order: tuple[int, int]
    at: float  # monotonic time it was kept


@dataclass
class _Topic:
    entries: deque[_Kept] = field(default_factory=deque)
    last: tuple[int, int] = (0, 0)  # the newest id given, kept or not
    appended: float = 0.0

    def next_id(self) -> tuple[int, int]:
        now = int(time.time() * 1000)
        ms, seq = self.last
        self.last = (now, 0) if now > ms else (ms, seq + 1)
        return self.last

    def trim(self, retention: Retention, now: float) -> None:
        while self.entries and (
            len(self.entries) > retention.size or self.entries[0].at <= now - retention.ttl
        ):
            self.entries.popleft()


class MemoryBackend(Backend):
    def __init__(self) -> None:
        # Least recently appended first, so that topics nobody writes to any more expire.
        self._topics: OrderedDict[str, _Topic] = OrderedDict()

    async def connect(self, on_message: OnMessage, on_resume: OnResume | None = None) -> None:
        self._on_message = on_message  # one process: there is no link to lose

    async def disconnect(self) -> None:
        pass

    async def subscribe(self, topic: str) -> None:
        pass

    async def unsubscribe(self, topic: str) -> None:
        pass

    async def publish(self, topic: str, frame: Frame) -> None:
        pass

    async def append(self, topic: str, message: Outgoing, retention: Retention) -> str:
        now = time.monotonic()
        self._expire(retention, now)
        held = self._topics.setdefault(topic, _Topic())
        self._topics.move_to_end(topic)
        order = held.next_id()
        message_id = f"{order[0]}-{order[1]}"
        data = message.entry_data(message_id)
        held.entries.append(_Kept(HistoryEntry(message_id, data), order, now))
        held.appended = now
        held.trim(retention, now)
        self._on_message(topic, to_frame(data), message_id, message.sender)
        return message_id

    async def history(
        self, topic: str, since: str | None, limit: int | None, retention: Retention
    ) -> Kept:
        now = time.monotonic()
        self._expire(retention, now)
        held = self._topics.get(topic)
        if held is None:
            return Kept([], since is None)
        held.trim(retention, now)
        after = None if since is None else id_order(since)
        entries = [kept.entry for kept in held.entries if after is None or kept.order > after]
        # Trimming only takes the oldest, so `since` still being kept (or being the newest id,
        # kept or not) means nothing after it was lost.
        complete = since is None or (
            after is not None
            and (after == held.last or any(kept.order == after for kept in held.entries))
        )
        if limit is not None:
            entries = entries[max(len(entries) - limit, 0) :]
        return Kept(entries, complete)

    def _expire(self, retention: Retention, now: float) -> None:
        """Forget topics whose newest message is older than the TTL, as Redis expires keys."""
        while self._topics:
            topic, held = next(iter(self._topics.items()))
            if held.appended > now - retention.ttl:
                return
            del self._topics[topic]
