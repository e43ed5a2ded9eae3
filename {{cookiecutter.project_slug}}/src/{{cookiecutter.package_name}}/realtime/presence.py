"""Presence: who is subscribed to a topic, in this process and in every other one.

Every subscription of a WebSocket peer is a presence entry, a `Member`: the
peer's id, its name (`str(peer)`) and the dict the handler gave
`peer.subscribe(topic, presence={...})`. SSE streams and server tasks
subscribe without one: they are not anybody. `Presence` keeps this process's
entries; a backend that reaches other processes (Redis) adds a
`PresenceStore`, which shares them and reads everyone else's. Without one
(`memory://`) presence is this process's own. docs/design.md ("Presence")
weighs the Redis layout and says what it costs.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# topic -> member id -> member: what this process holds, kept by `Presence`.
Members = Mapping[str, Mapping[str, "Member"]]


@dataclass(frozen=True)
class Member:
    """One peer's entry in a topic's presence."""

    id: str
    name: str
    data: dict[str, Any]

    def encode(self) -> str:
        """The entry as stored in a shared broker (the id is kept beside it)."""
        return json.dumps({"name": self.name, "data": self.data}, separators=(",", ":"))

    @classmethod
    def decode(cls, id: str, encoded: str | bytes) -> Member:
        entry = json.loads(encoded)
        return cls(id, entry["name"], entry["data"])


def member(id: str, name: str, data: Mapping[str, Any] | None) -> Member:
    """A member whose data is what JSON makes of `data`, the same on every backend.

    Raises `TypeError` for data that is not a JSON-serialisable dict, before anything changed.
    """
    if data is None:
        return Member(id, name, {})
    if not isinstance(data, Mapping):
        raise TypeError(f"presence data must be a dict, not {type(data).__name__}")
    try:
        encoded = json.dumps(dict(data), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"presence data must be JSON-serialisable: {exc}") from exc
    return Member(id, name, json.loads(encoded))


def ordered(members: Iterable[Member]) -> list[Member]:
    return sorted(members, key=lambda member: (member.name, member.id))


class PresenceStore(ABC):
    """Shares this process's members with the processes on the same broker."""

    @abstractmethod
    async def start(self, local: Members) -> None:
        """Share `local`, which the caller keeps up to date, until `stop`."""

    @abstractmethod
    async def stop(self) -> None:
        """Withdraw every member of this process at once."""

    @abstractmethod
    async def join(self, topic: str, member: Member) -> None:
        """`member` was just added to `local` (or its data replaced)."""

    @abstractmethod
    async def leave(self, member_id: str, topics: list[str]) -> None:
        """`member_id` was just removed from `local` for each of `topics`."""

    @abstractmethod
    async def others(self, topic: str) -> list[Member]:
        """The members of `topic` in the other live processes."""


class Presence:
    """This process's presence entries, and the store (if any) that shares them."""

    def __init__(self, store: PresenceStore | None = None) -> None:
        self._local: dict[str, dict[str, Member]] = {}
        self._store = store
        self._shared = False

    async def start(self) -> None:
        if self._store is not None:
            await self._store.start(self._local)
            self._shared = True

    async def stop(self) -> None:
        if self._store is not None and self._shared:
            # Peers that end after this only leave here: the store has withdrawn them all.
            self._shared = False
            await self._store.stop()

    async def join(self, topic: str, member: Member) -> None:
        """Add `member` to `topic`, or replace its data there."""
        self._local.setdefault(topic, {})[member.id] = member
        if self._store is not None and self._shared:
            await self._store.join(topic, member)

    async def leave(self, member_id: str, topics: Iterable[str]) -> None:
        left = []
        for topic in topics:
            members = self._local.get(topic)
            if members is None or members.pop(member_id, None) is None:
                continue
            if not members:
                del self._local[topic]
            left.append(topic)
        if left and self._store is not None and self._shared:
            await self._store.leave(member_id, left)

    async def members(self, topic: str) -> list[Member]:
        """Every member of `topic`: this process's as they are now, then the others' live ones."""
        own = list(self._local.get(topic, {}).values())
        if self._store is None or not self._shared:
            return ordered(own)
        return ordered(own + await self._store.others(topic))
