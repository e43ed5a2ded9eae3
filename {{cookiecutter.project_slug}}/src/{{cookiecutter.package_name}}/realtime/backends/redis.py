"""`redis://` and `rediss://`: frames reach the other processes through Redis pub/sub.

Why it is built this way:

- Two connections per process, whatever the number of peers and topics: one
  publishes (used in turn, which keeps this process's messages in order) and
  one subscribes. The bus calls `subscribe` for a topic's first local
  subscriber and `unsubscribe` for its last, so Redis holds one subscription
  per process and topic. Channels are `prefix + topic`: two apps can share a Redis.
- A message is `origin + kind + body`: the publishing process's id, `t` (text)
  or `b` (binary), then the frame's bytes untouched. The bus has already
  delivered it inside the publishing process, so that process skips it when
  Redis hands it back: every subscriber but the sender gets it exactly once.
- Delivery is at most once. While Redis is away, delivery inside the process
  goes on, publishes are dropped and logged (never queued, never raised into a
  handler), and the subscriber reconnects with backoff and subscribes again to
  every live topic. Queueing would trade lost messages for unbounded memory
  and stale ones delivered late.
- Publishing does not wait for Redis: frames join a bounded outbox that one
  task writes in order, as many as are waiting in one pipelined round trip.
  Waiting would hold each message's local fan-out for a round trip and wake
  every receiver once per message instead of once per batch: two to three
  times the CPU per delivery (the template's bench/ measures it). A full
  outbox (Redis far behind) drops, as an outage does.
- One task reads the subscriber connection. Commands are written one at a
  time under a FIFO lock, so a subscribe and an unsubscribe of one channel
  reach Redis in the order the bus made them; a new connection subscribes to
  the wanted topics, which are kept apart from any connection.
- History (HISTORY_SIZE > 0) is a Redis Stream per topic, `prefix + "history:" +
  topic`, so every process sees one history and it outlives the app. One Lua
  script (`APPEND`) adds the message (XADD MAXLEN), drops what is older than
  HISTORY_TTL (XTRIM MINID), sets the key's TTL and PUBLISHes the message with
  the id Redis gave it: numbering and publishing are one atomic step, so every
  process, the publisher's included, delivers in the stream's order. The
  publisher's own process delivers when Redis hands the message back, one round
  trip later. Such messages are `origin + T|B + id \\n sender \\n field \\n
  body`: the sender (a peer id) is left out wherever it is, and `field`, when
  set, gets the id inserted once per process. These scripts go through the same
  outbox, as EVALSHA, so they stay pipelined.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import random
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from ..frames import Frame, to_frame
from ..presence import PresenceStore
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
from .redis_presence import RedisPresence

logger = logging.getLogger(__name__)

TIMEOUT = 2.0  # connecting, writing, and how long `subscribe` waits for Redis to confirm
PING_SECONDS = 5.0  # an idle subscriber pings; no answer within as long again means a dead link
RETRY_MIN, RETRY_MAX = 0.1, 2.0  # reconnection backoff
TEXT, BINARY = b"t", b"b"
KEPT_TEXT, KEPT_BINARY = b"T", b"B"  # with an id, from history
ORIGIN_SIZE = 32
OUTBOX_SIZE = 10_000  # frames published but not yet written to Redis

# Both scripts first drop what is older than the TTL (ARGV[3], in ms), by Redis' clock.
EXPIRE_OLD = b"""
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', ms - ARGV[3]))
"""

# KEYS[1]: the topic's stream. ARGV: channel, size, ttl (ms), head, sender, field, kind, data.
APPEND = (
    EXPIRE_OLD
    + b"""
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*',
  'k', ARGV[7], 'f', ARGV[6], 'd', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local message = ARGV[4] .. id .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[6] .. '\\n' .. ARGV[8]
redis.call('PUBLISH', ARGV[1], message)
return id
"""
)
APPEND_SHA = hashlib.sha1(APPEND).hexdigest()

# KEYS[1]: the topic's stream. ARGV: since ('' for all), limit ('' for all), ttl (ms).
# Trimming only takes the oldest, so `since` still being kept (or being the newest id
# given) means nothing after it was lost: then the first value returned is 1.
READ = (
    EXPIRE_OLD
    + b"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {ARGV[1] == '' and 1 or 0, {}}
end
local complete, start = 1, '-'
if ARGV[1] ~= '' then
  start = '(' .. ARGV[1]
  if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then
    complete = 0
    local info = redis.call('XINFO', 'STREAM', KEYS[1])
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' and info[i + 1] == ARGV[1] then complete = 1 end
    end
  end
end
if ARGV[2] == '' then
  return {complete, redis.call('XRANGE', KEYS[1], start, '+')}
end
return {complete, redis.call('XREVRANGE', KEYS[1], '+', start, 'COUNT', ARGV[2])}
"""
)


@dataclass(slots=True)
class _Append:
    """An APPEND waiting in the outbox, and who waits for its id."""

    key: bytes
    args: tuple[bytes | int, ...]
    done: asyncio.Future[str | None]


class RedisBackend(Backend):
    def __init__(self, url: str, prefix: str = "") -> None:
        self.url = url
        self.prefix = prefix.encode()
        self.origin = uuid.uuid4().hex.encode()  # this process
        self._wanted: set[str] = set()
        self._live: PubSub | None = None
        self._confirmations: dict[bytes, deque[asyncio.Future[None]]] = {}
        self._dropped = 0
        self._outbox: deque[tuple[bytes, bytes] | _Append] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._resuming: asyncio.Task[None] | None = None

    async def connect(self, on_message: OnMessage, on_resume: OnResume | None = None) -> None:
        self._on_message = on_message
        self._on_resume = on_resume
        # Redis-py would reconnect and resubscribe behind our back; errors must reach us instead.
        options: dict[str, Any] = dict(
            socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0)
        )
        self._publisher = Redis.from_url(self.url, **options)
        self._read_history = self._publisher.register_script(READ)
        self._subscriber = Redis.from_url(self.url, **options)
        self._publishing = asyncio.Lock()
        self._writing = asyncio.Lock()
        try:
            pubsub, _ = await self._open()
        except (RedisError, OSError) as exc:
            await self._publisher.aclose()
            await self._subscriber.aclose()
            raise RuntimeError(f"cannot reach PUBSUB_URL={redact(self.url)}: {exc}") from exc
        self._listener = asyncio.create_task(self._listen(pubsub), name="redis subscriber")

    async def disconnect(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(Exception):  # it logs its own failures
                await asyncio.wait_for(asyncio.shield(self._sender), TIMEOUT)
        for task in (self._listener, self._resuming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._publisher.aclose()
        await self._subscriber.aclose()

    async def subscribe(self, topic: str) -> None:
        self._wanted.add(topic)
        async with self._writing:
            if self._live is None:
                return  # subscribed on reconnection
            try:
                [confirmed] = await self._subscribe(self._live, [topic])
            except (RedisError, OSError) as exc:
                logger.warning("SUBSCRIBE %r failed (%s); reconnecting", topic, exc)
                return
        # From then on, messages published anywhere reach this process.
        await asyncio.wait([confirmed], timeout=TIMEOUT)

    async def unsubscribe(self, topic: str) -> None:
        self._wanted.discard(topic)
        async with self._writing:
            if self._live is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._live.unsubscribe(self.prefix + topic.encode())

    @property
    def reachable(self) -> bool:
        return self._live is not None  # the subscriber link: dropped on error, set on reconnection

    async def publish(self, topic: str, frame: Frame) -> None:
        if not self._can_send(topic):
            return
        text: str | None = frame.get("text")
        body = TEXT + text.encode() if text is not None else BINARY + frame["bytes"]
        self._send((self.prefix + topic.encode(), self.origin + body))

    async def append(self, topic: str, message: Outgoing, retention: Retention) -> str | None:
        if not self._can_send(topic):
            return None
        binary = isinstance(message.payload, bytes)
        data = message.payload if isinstance(message.payload, bytes) else message.payload.encode()
        args = (
            self.prefix + topic.encode(),
            retention.size,
            _milliseconds(retention.ttl),
            self.origin + (KEPT_BINARY if binary else KEPT_TEXT),
            (message.sender or "").encode(),
            (message.field or "").encode(),
            BINARY if binary else TEXT,
            data,
        )
        done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._send(_Append(self._history_key(topic), args, done))
        return await done

    async def history(
        self, topic: str, since: str | None, limit: int | None, retention: Retention
    ) -> Kept:
        known = since is None or id_order(since) is not None
        args = ("" if since is None or not known else since, "" if limit is None else max(limit, 1))
        try:
            complete, rows = await self._read_history(
                keys=[self._history_key(topic)], args=[*args, _milliseconds(retention.ttl)]
            )
        except (RedisError, OSError) as exc:
            logger.warning("cannot read the history of %r from Redis: %s", topic, exc)
            return Kept([], complete=False)
        if limit is not None:
            rows = rows[:limit][::-1]  # read newest first
        return Kept([_entry(row) for row in rows], complete=bool(complete) and known)

    def _history_key(self, topic: str) -> bytes:
        return self.prefix + b"history:" + topic.encode()

    def _can_send(self, topic: str) -> bool:
        if self._live is None:
            if not self._dropped:
                logger.warning("Redis is unreachable: dropping publishes until it is back")
            self._dropped += 1
            return False
        if len(self._outbox) >= OUTBOX_SIZE:
            logger.warning("dropped a message on %r: Redis is %d behind", topic, OUTBOX_SIZE)
            return False
        return True

    def _send(self, item: tuple[bytes, bytes] | _Append) -> None:
        self._outbox.append(item)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_outbox(), name="redis publisher")

    def presence_store(self, ttl: float) -> PresenceStore:
        return RedisPresence(self.url, self.prefix.decode(), ttl)

    async def _send_outbox(self) -> None:
        while self._outbox:
            batch = list(self._outbox)
            self._outbox.clear()
            results: list[Any] = []
            try:
                async with self._publishing:
                    results = await self._execute(batch)
            except (RedisError, OSError) as exc:
                logger.warning(
                    "dropped %d message(s): publishing to Redis failed: %s", len(batch), exc
                )
            finally:  # whatever happened, no publisher waits for good
                _settle(batch, results)

    async def _execute(self, batch: list[tuple[bytes, bytes] | _Append]) -> list[Any]:
        """Write `batch` in one pipelined round trip; a result (or an error) per item."""
        results = await self._pipeline(batch)
        unknown = [
            n
            for n, (item, result) in enumerate(zip(batch, results, strict=True))
            if isinstance(item, _Append) and isinstance(result, NoScriptError)
        ]
        if unknown:  # a Redis that restarted, or never had APPEND
            await self._publisher.script_load(APPEND)
            retried = await self._pipeline([batch[n] for n in unknown])
            for n, result in zip(unknown, retried, strict=True):
                results[n] = result
        return results

    async def _pipeline(self, batch: list[tuple[bytes, bytes] | _Append]) -> list[Any]:
        pipeline = self._publisher.pipeline(transaction=False)
        for item in batch:
            if isinstance(item, _Append):
                pipeline.evalsha(APPEND_SHA, 1, item.key, *item.args)
            else:
                pipeline.publish(*item)
        results: list[Any] = await pipeline.execute(raise_on_error=False)
        return results

    async def _open(self) -> tuple[PubSub, list[asyncio.Future[None]]]:
        """Connect a subscriber and subscribe to every wanted topic; the confirmations."""
        pubsub: PubSub = self._subscriber.pubsub()
        try:
            await pubsub.connect()  # type: ignore[no-untyped-call, unused-ignore]
            async with self._publishing:  # its connection may be to a Redis that is gone
                await self._publisher.connection_pool.disconnect()
            async with self._writing:
                self._live = pubsub
                confirmed = await self._subscribe(pubsub, sorted(self._wanted))
        except BaseException:
            await self._close(pubsub)
            raise
        return pubsub, confirmed

    async def _subscribe(self, pubsub: PubSub, topics: list[str]) -> list[asyncio.Future[None]]:
        channels = [self.prefix + topic.encode() for topic in topics]
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in channels]
        for channel, future in zip(channels, futures, strict=True):
            self._confirmations.setdefault(channel, deque()).append(future)
        if channels:
            await pubsub.subscribe(*channels)
        return futures

    async def _listen(self, pubsub: PubSub) -> None:
        """Read messages for good: on a lost connection, reconnect and carry on."""
        while True:
            try:
                await self._read(pubsub)
            except (RedisError, OSError) as exc:
                logger.warning("lost Redis at %s (%s); reconnecting", redact(self.url), exc)
            except Exception:
                logger.exception("Redis subscriber failed; reconnecting")
            finally:
                await self._close(pubsub)
            pubsub = await self._reconnect()

    async def _reconnect(self) -> PubSub:
        delay = RETRY_MIN
        while True:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RETRY_MAX)
            try:
                pubsub, confirmed = await self._open()
            except (RedisError, OSError) as exc:
                logger.debug("Redis still unreachable: %s", exc)
                continue
            except Exception:
                logger.exception("reconnecting to Redis failed")
                continue
            logger.warning(
                "Redis is back: %d topic(s) subscribed again, %d publish(es) dropped meanwhile",
                len(self._wanted),
                self._dropped,
            )
            self._dropped = 0
            self._resuming = asyncio.create_task(self._resume(confirmed), name="redis resume")
            return pubsub

    async def _resume(self, confirmed: list[asyncio.Future[None]]) -> None:
        """Once every topic is subscribed again, let the bus fetch what it missed meanwhile."""
        if confirmed:
            # Confirmed by the listener task, which goes on reading meanwhile.
            await asyncio.wait(confirmed, timeout=TIMEOUT)
        if self._on_resume is not None:
            self._on_resume()

    async def _read(self, pubsub: PubSub) -> None:
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=PING_SECONDS)
            if message is None:
                if pinged:
                    raise RedisConnectionError(f"no answer to PING in {PING_SECONDS}s")
                async with self._writing:
                    await pubsub.ping()
                pinged = True
                continue
            pinged = False
            if message["type"] == "message":
                self._receive(message["channel"], message["data"])
            elif message["type"] == "subscribe":
                waiting = self._confirmations.get(message["channel"])
                if waiting:
                    waiting.popleft().set_result(None)

    def _receive(self, channel: bytes, payload: bytes) -> None:
        origin, kind = payload[:ORIGIN_SIZE], payload[ORIGIN_SIZE : ORIGIN_SIZE + 1]
        body = payload[ORIGIN_SIZE + 1 :]
        try:
            topic = channel[len(self.prefix) :].decode()
            if kind in (KEPT_TEXT, KEPT_BINARY):
                message_id, sender, field, data = body.split(b"\n", 3)
                message = Outgoing(
                    data.decode() if kind == KEPT_TEXT else data,
                    field.decode() or None,
                    sender.decode() or None,
                )
                key = message_id.decode()
                self._on_message(topic, to_frame(message.entry_data(key)), key, message.sender)
            elif origin == self.origin:
                return  # already delivered here by the bus
            elif kind in (TEXT, BINARY):
                frame = to_frame(body.decode() if kind == TEXT else body)
                self._on_message(topic, frame, None, None)
            else:
                raise ValueError(f"unknown message format {payload[:40]!r}")
        except Exception:
            logger.exception("cannot deliver a message from Redis channel %r", channel)

    async def _close(self, pubsub: PubSub) -> None:
        async with self._writing:  # no command is half-written to it
            if self._live is pubsub:
                self._live = None
            for waiting in self._confirmations.values():
                for future in waiting:
                    if not future.done():
                        future.set_result(None)
            self._confirmations.clear()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(TIMEOUT):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]


def _settle(batch: list[tuple[bytes, bytes] | _Append], results: list[Any]) -> None:
    """Tell each APPEND's publisher its id, or None when Redis did not keep it."""
    for item, result in itertools.zip_longest(batch, results):
        if isinstance(item, _Append) and not item.done.done():
            item.done.set_result(result.decode() if isinstance(result, bytes) else None)
    errors = [result for result in results if isinstance(result, Exception)]
    if errors:
        logger.warning("dropped %d message(s): Redis refused them: %s", len(errors), errors[0])


def _milliseconds(seconds: float) -> int:
    return max(round(seconds * 1000), 1)


def _entry(row: list[Any]) -> HistoryEntry:
    """A stream entry, `[id, [k, kind, f, field, d, data]]`, as the entry it was published as."""
    raw_id, values = row
    fields = dict(zip(values[::2], values[1::2], strict=True))
    message_id, data = raw_id.decode(), fields[b"d"]
    payload = data.decode() if fields[b"k"] == TEXT else data
    message = Outgoing(payload, fields[b"f"].decode() or None)
    return HistoryEntry(message_id, message.entry_data(message_id))


def redact(url: str) -> str:
    """`url` without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    return parts._replace(netloc=netloc).geturl()
