"""Presence shared through Redis: each process writes its own members and keeps itself alive.

Keys, all under `PUBSUB_PREFIX + "presence:"` (`P`); `O` is a process's id:

- `P alive:O`: a string that expires `PRESENCE_TTL` after the last heartbeat.
  Readers count a process only while it exists, so one killed without a
  word drops out within the TTL, by Redis's clock alone.
- `P members:O:topic`: a hash, member id -> `{"name", "data"}` JSON, of O's
  members in the topic. `P origins:topic`: the set of processes with members
  there. `P topics:O`: the set of topics O has members in.
- `P processes`: the set of every process with keys, for the sweep.

A heartbeat, every third of the TTL, is two commands in one round trip
whatever the number of members and topics: `PEXPIRE` of the alive key, and a
sweep script that deletes the keys of processes whose alive key has gone.
`PEXPIRE` answering 0 means Redis lost this process's keys (a restart, a
flush, or it thought us dead and swept us): they are written again in full,
as they are after an outage. Joins and leaves write at once (one round trip
each, in the order they happened); while Redis is away they change only this
process's own list, which the next successful heartbeat writes in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..presence import Member, Members, PresenceStore

logger = logging.getLogger(__name__)

TIMEOUT = 2.0  # connecting and each command
BEATS_PER_TTL = 3  # a process survives two lost heartbeats

# Deletes the keys of every process whose alive key has expired. ARGV[1] is `P`.
SWEEP = """
local p = ARGV[1]
for _, origin in ipairs(redis.call('SMEMBERS', p .. 'processes')) do
  if redis.call('EXISTS', p .. 'alive:' .. origin) == 0 then
    for _, topic in ipairs(redis.call('SMEMBERS', p .. 'topics:' .. origin)) do
      redis.call('SREM', p .. 'origins:' .. topic, origin)
      redis.call('DEL', p .. 'members:' .. origin .. ':' .. topic)
    end
    redis.call('DEL', p .. 'topics:' .. origin)
    redis.call('SREM', p .. 'processes', origin)
  end
end
"""


class RedisPresence(PresenceStore):
    def __init__(self, url: str, prefix: str, ttl: float) -> None:
        self.origin = uuid.uuid4().hex.encode()
        self.ttl_ms = max(1, round(ttl * 1000))
        self.interval = ttl / BEATS_PER_TTL
        self._p = f"{prefix}presence:".encode()
        self._alive = self._p + b"alive:" + self.origin
        self._topics = self._p + b"topics:" + self.origin
        self._processes = self._p + b"processes"
        # One retry on a fresh connection: the pooled one may be to a Redis that restarted.
        options: dict[str, Any] = dict(
            socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 1)
        )
        self._redis = Redis.from_url(url, **options)
        self._local: Members = {}
        # Writes go out one at a time, so that Redis sees joins and leaves in their order.
        self._writing = asyncio.Lock()
        self._stale = True  # Redis may not hold what `_local` says: write it all
        self._failed = False  # since the last successful write
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self, local: Members) -> None:
        self._local = local
        await self.beat()
        self._heartbeat = asyncio.create_task(self._beat_forever(), name="presence heartbeat")

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        try:
            async with asyncio.timeout(TIMEOUT), self._writing:
                gone = await self._smembers(self._topics)
                pipeline = self._redis.pipeline(transaction=True)
                self._withdraw(pipeline, gone | {topic.encode() for topic in self._local})
                pipeline.delete(self._alive)
                pipeline.srem(self._processes, self.origin)
                await pipeline.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("presence: cannot withdraw this process (%s); it will expire", exc)
        finally:
            await self._redis.aclose()

    async def join(self, topic: str, member: Member) -> None:
        key = topic.encode()

        def commands(pipeline: Pipeline) -> None:
            pipeline.hset(self._members(self.origin, key), member.id, member.encode())
            pipeline.sadd(self._origins(key), self.origin)
            pipeline.sadd(self._topics, key)

        await self._write(commands)

    async def leave(self, member_id: str, topics: list[str]) -> None:
        def commands(pipeline: Pipeline) -> None:
            for topic in topics:
                key = topic.encode()
                pipeline.hdel(self._members(self.origin, key), member_id)
                if topic not in self._local:  # its last member here: the hash is gone too
                    pipeline.srem(self._origins(key), self.origin)
                    pipeline.srem(self._topics, key)

        await self._write(commands)

    async def others(self, topic: str) -> list[Member]:
        key = topic.encode()
        try:
            origins = sorted(await self._smembers(self._origins(key)) - {self.origin})
            pipeline = self._redis.pipeline(transaction=False)
            for origin in origins:
                pipeline.exists(self._p + b"alive:" + origin)
                pipeline.hgetall(self._members(origin, key))
            replies = await pipeline.execute()
        except (RedisError, OSError) as exc:
            self._fail(exc)  # and until it is back, presence is this process's own
            return []
        members = []
        for alive, entries in zip(replies[::2], replies[1::2], strict=True):
            if alive:
                members += [Member.decode(key.decode(), entry) for key, entry in entries.items()]
        return members

    async def beat(self) -> None:
        """Keep this process alive; write all its members if Redis may not have them."""
        try:
            async with self._writing:
                if not self._stale:
                    pipeline = self._redis.pipeline(transaction=False)
                    pipeline.pexpire(self._alive, self.ttl_ms)
                    pipeline.eval(SWEEP, 0, self._p)
                    alive, _ = await pipeline.execute()
                    if not alive:
                        logger.warning("presence: Redis lost this process's members")
                        self._stale = True
                if self._stale:
                    await self._rewrite()
                    self._stale = False
        except (RedisError, OSError) as exc:
            self._fail(exc)
            return
        if self._failed:
            self._failed = False
            logger.warning("presence: Redis is back; this process's members are written again")

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.beat()

    async def _rewrite(self) -> None:
        """Replace whatever Redis holds for this process with `_local`, in one transaction."""
        gone = await self._smembers(self._topics)
        pipeline = self._redis.pipeline(transaction=True)
        pipeline.set(self._alive, b"1", px=self.ttl_ms)
        pipeline.sadd(self._processes, self.origin)
        self._withdraw(pipeline, gone)
        for topic, members in self._local.items():
            key = topic.encode()
            mapping: dict[str | bytes, str] = {m.id: m.encode() for m in members.values()}
            pipeline.hset(self._members(self.origin, key), mapping=mapping)  # type: ignore[arg-type]
            pipeline.sadd(self._origins(key), self.origin)
            pipeline.sadd(self._topics, key)
        await pipeline.execute()

    def _withdraw(self, pipeline: Pipeline, topics: set[bytes]) -> None:
        for key in topics:
            pipeline.srem(self._origins(key), self.origin)
            pipeline.delete(self._members(self.origin, key))
        pipeline.delete(self._topics)

    async def _write(self, commands: Callable[[Pipeline], object]) -> None:
        """Send `commands(pipeline)` now; while Redis is away, leave it to the next heartbeat."""
        if self._stale:
            return
        try:
            async with self._writing:
                if self._stale:
                    return
                pipeline = self._redis.pipeline(transaction=False)
                commands(pipeline)
                await pipeline.execute()
        except (RedisError, OSError) as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        if not self._failed:
            logger.warning("presence: Redis failed (%s); writing all again once it is back", exc)
        self._failed = self._stale = True

    async def _smembers(self, key: bytes) -> set[bytes]:
        # Replies are bytes: the client does not decode them.
        return cast(set[bytes], await self._redis.smembers(key))

    def _members(self, origin: bytes, topic: bytes) -> bytes:
        return self._p + b"members:" + origin + b":" + topic

    def _origins(self, topic: bytes) -> bytes:
        return self._p + b"origins:" + topic
