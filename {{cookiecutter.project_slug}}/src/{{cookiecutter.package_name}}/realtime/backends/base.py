"""The interface a pub/sub backend implements: carry frames between processes, keep history."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from ..frames import Frame, insert_id
from ..presence import PresenceStore


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One kept message: its id, and its payload as delivered (`str` text, `bytes` binary)."""

    id: str
    data: str | bytes


@dataclass(frozen=True, slots=True)
class Kept:
    """What a topic's history holds after some id, and whether it reached back that far."""

    entries: list[HistoryEntry]
    complete: bool


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history a topic keeps: `size` messages (0: none), each for `ttl` seconds."""

    size: int
    ttl: float


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message on its way to history: `field` names where its own id goes in its JSON."""

    payload: str | bytes
    field: str | None = None
    sender: str | None = None  # the publishing peer's id, which does not receive it

    def entry_data(self, message_id: str | None) -> str | bytes:
        if self.field is None or isinstance(self.payload, bytes):
            return self.payload
        return insert_id(self.payload, self.field, message_id)


# (topic, frame, message id or None, sender peer id or None)
OnMessage = Callable[[str, Frame, str | None, str | None], None]
# Called when the backend is subscribed again after losing its link.
OnResume = Callable[[], None]

# Ids are `<milliseconds>-<sequence>`, as Redis Streams number entries.
_ID = re.compile(r"(\d{1,20})-(\d{1,20})")


def id_order(message_id: str) -> tuple[int, int] | None:
    """Where an id stands in its topic's order; None for a string that is no id."""
    match = _ID.fullmatch(message_id)
    return None if match is None else (int(match[1]), int(match[2]))


class Backend(ABC):
    """Delivery inside one process is the bus's job; a backend only reaches the others.

    `on_message` must be called for every frame `publish`ed on a subscribed
    topic by another process, and never for this process's own. A message
    `append`ed to history is different: `on_message` gets it in every
    process, this one included, so that all see one order.

    `on_resume` is called once a backend that lost its link to the others is
    subscribed again: what they published meanwhile never reached this process.
    """

    @abstractmethod
    async def connect(self, on_message: OnMessage, on_resume: OnResume | None = None) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None: ...

    @abstractmethod
    async def subscribe(self, topic: str) -> None: ...

    @abstractmethod
    async def unsubscribe(self, topic: str) -> None: ...

    @abstractmethod
    async def publish(self, topic: str, frame: Frame) -> None: ...

    def presence_store(self, ttl: float) -> PresenceStore | None:
        """The store that shares presence with other processes; None keeps it in this process.

        `ttl` is how long a process that died without a word stays in others' presence.
        """
        return None

    @abstractmethod
    async def append(self, topic: str, message: Outgoing, retention: Retention) -> str | None:
        """Keep `message` in history and deliver it everywhere; its id, or None if it could not
        be kept, in which case it was delivered nowhere."""

    @abstractmethod
    async def history(
        self, topic: str, since: str | None, limit: int | None, retention: Retention
    ) -> Kept:
        """The kept messages after `since` (all when None), oldest first, the newest `limit`."""

    @property
    def reachable(self) -> bool:
        """Whether other processes can be reached now (for the health check)."""
        return True
