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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ..frames import Frame, to_frame
from .base import Backend, OnMessage

logger = logging.getLogger(__name__)

TIMEOUT = 2.0  # connecting, writing, and how long `subscribe` waits for Redis to confirm
PING_SECONDS = 5.0  # an idle subscriber pings; no answer within as long again means a dead link
RETRY_MIN, RETRY_MAX = 0.1, 2.0  # reconnection backoff
TEXT, BINARY = b"t", b"b"
ORIGIN_SIZE = 32
OUTBOX_SIZE = 10_000  # frames published but not yet written to Redis


class RedisBackend(Backend):
    def __init__(self, url: str, prefix: str = "") -> None:
        self.url = url
        self.prefix = prefix.encode()
        self.origin = uuid.uuid4().hex.encode()  # this process
        self._wanted: set[str] = set()
        self._live: PubSub | None = None
        self._confirmations: dict[bytes, deque[asyncio.Future[None]]] = {}
        self._dropped = 0
        self._outbox: deque[tuple[bytes, bytes]] = deque()
        self._sender: asyncio.Task[None] | None = None

    async def connect(self, on_message: OnMessage) -> None:
        self._on_message = on_message
        # Redis-py would reconnect and resubscribe behind our back; errors must reach us instead.
        options: dict[str, Any] = dict(
            socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0)
        )
        self._publisher = Redis.from_url(self.url, **options)
        self._subscriber = Redis.from_url(self.url, **options)
        self._publishing = asyncio.Lock()
        self._writing = asyncio.Lock()
        try:
            pubsub = await self._open()
        except (RedisError, OSError) as exc:
            await self._publisher.aclose()
            await self._subscriber.aclose()
            raise RuntimeError(f"cannot reach PUBSUB_URL={redact(self.url)}: {exc}") from exc
        self._listener = asyncio.create_task(self._listen(pubsub), name="redis subscriber")

    async def disconnect(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(Exception):  # it logs its own failures
                await asyncio.wait_for(asyncio.shield(self._sender), TIMEOUT)
        self._listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listener
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
        if self._live is None:
            if not self._dropped:
                logger.warning("Redis is unreachable: dropping publishes until it is back")
            self._dropped += 1
            return
        if len(self._outbox) >= OUTBOX_SIZE:
            logger.warning("dropped a message on %r: Redis is %d behind", topic, OUTBOX_SIZE)
            return
        text: str | None = frame.get("text")
        body = TEXT + text.encode() if text is not None else BINARY + frame["bytes"]
        self._outbox.append((self.prefix + topic.encode(), self.origin + body))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_outbox(), name="redis publisher")

    async def _send_outbox(self) -> None:
        while self._outbox:
            batch = list(self._outbox)
            self._outbox.clear()
            try:
                async with self._publishing:
                    pipeline = self._publisher.pipeline(transaction=False)
                    for channel, payload in batch:
                        pipeline.publish(channel, payload)
                    await pipeline.execute()
            except (RedisError, OSError) as exc:
                logger.warning(
                    "dropped %d message(s): publishing to Redis failed: %s", len(batch), exc
                )

    async def _open(self) -> PubSub:
        """Connect a subscriber and subscribe to every wanted topic."""
        pubsub: PubSub = self._subscriber.pubsub()
        try:
            await pubsub.connect()  # type: ignore[no-untyped-call, unused-ignore]
            async with self._publishing:  # its connection may be to a Redis that is gone
                await self._publisher.connection_pool.disconnect()
            async with self._writing:
                self._live = pubsub
                await self._subscribe(pubsub, sorted(self._wanted))
        except BaseException:
            await self._close(pubsub)
            raise
        return pubsub

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
                pubsub = await self._open()
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
            return pubsub

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
        if origin == self.origin:
            return  # already delivered here by the bus
        try:
            if kind not in (TEXT, BINARY):
                raise ValueError(f"unknown message format {payload[:40]!r}")
            frame = to_frame(body.decode() if kind == TEXT else body)
            self._on_message(channel[len(self.prefix) :].decode(), frame)
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


def redact(url: str) -> str:
    """`url` without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    return parts._replace(netloc=netloc).geturl()
