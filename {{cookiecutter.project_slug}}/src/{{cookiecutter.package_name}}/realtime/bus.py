"""Topics and their local subscribers; the backend carries frames to other processes.

Fan-out never waits on a receiver: `deliver` only puts the shared frame on the
receiver's own bounded queue, drained by its own writer. A receiver that cannot
keep up overflows its queue and is closed; the others never notice it (see
docs/design.md).
"""

from __future__ import annotations

from typing import Any, Protocol

from .backends import Backend
from .frames import Frame, to_frame


class Subscriber(Protocol):
    def deliver(self, frame: Frame) -> None:
        """Queue `frame` without waiting and without changing any subscription."""


class Bus:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._topics: dict[str, set[Subscriber]] = {}

    async def start(self) -> None:
        await self.backend.connect(self._fan_out)

    async def stop(self) -> None:
        await self.backend.disconnect()

    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self._topics.setdefault(topic, set())
        subscribers.add(subscriber)
        if len(subscribers) == 1:
            await self.backend.subscribe(topic)

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is None or subscriber not in subscribers:
            return
        subscribers.remove(subscriber)
        if not subscribers:
            del self._topics[topic]
            await self.backend.unsubscribe(topic)

    async def publish(self, topic: str, data: Any, sender: Subscriber | None = None) -> None:
        """Send `data` to every subscriber of `topic`, in every process, except `sender`."""
        frame = to_frame(data)
        self._fan_out(topic, frame, sender)
        await self.backend.publish(topic, frame)

    def subscribers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    @property
    def topics(self) -> list[str]:
        return list(self._topics)

    def _fan_out(self, topic: str, frame: Frame, sender: Subscriber | None = None) -> None:
        # Iterating the live set is safe: `deliver` never changes subscriptions.
        for subscriber in self._topics.get(topic, ()):
            if subscriber is not sender:
                subscriber.deliver(frame)


class Subscriptions:
    """The topics one subscriber follows, kept in step with the bus."""

    def __init__(self, bus: Bus, subscriber: Subscriber) -> None:
        self.topics: set[str] = set()
        self._bus = bus
        self._subscriber = subscriber

    async def add(self, topic: str) -> None:
        if topic not in self.topics:
            self.topics.add(topic)
            await self._bus.subscribe(topic, self._subscriber)

    async def remove(self, topic: str) -> None:
        if topic in self.topics:
            self.topics.remove(topic)
            await self._bus.unsubscribe(topic, self._subscriber)

    async def clear(self) -> None:
        for topic in list(self.topics):
            await self.remove(topic)
