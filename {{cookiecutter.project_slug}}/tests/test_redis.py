"""The Redis backend against a real Redis: envelopes, subscriptions, prefixes, outages.

Each backend here stands for one process. Tests on the shared Redis use a
prefix of their own, so that runs side by side never hear each other.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
import redis.asyncio

from {{ cookiecutter.package_name }}.realtime import Bus
from {{ cookiecutter.package_name }}.realtime.backends import redis as backend_module
from {{ cookiecutter.package_name }}.realtime.backends.redis import RedisBackend, redact
from {{ cookiecutter.package_name }}.realtime.frames import Frame, to_frame

from .conftest import RedisServer, free_port

TIMEOUT = 5.0
LOGGER = backend_module.__name__


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 30))


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll state that has no event to await (another client's view of Redis)."""
    deadline = time.monotonic() + TIMEOUT
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Inbox:
    """What a backend hands to its bus: (topic, frame) pairs, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Frame]] = []
        self._arrived = asyncio.Event()

    def __call__(
        self, topic: str, frame: Frame, message_id: str | None, sender: str | None
    ) -> None:
        self.items.append((topic, frame))
        self._arrived.set()

    async def wait_for(self, count: int) -> list[tuple[str, Frame]]:
        async with asyncio.timeout(TIMEOUT):
            while len(self.items) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.items


async def connected(url: str, prefix: str) -> tuple[RedisBackend, Inbox]:
    backend, inbox = RedisBackend(url, prefix), Inbox()
    await backend.connect(inbox)
    return backend, inbox


async def numsub(client: redis.asyncio.Redis, channel: str) -> int:
    [(_, count)] = await client.pubsub_numsub(channel)
    return int(count)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@redis:6379/1", "redis://:***@redis:6379/1"),
        ("rediss://app:s3cret@redis.example.com/2", "rediss://app:***@redis.example.com/2"),
    ],
)
def test_redact_hides_the_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_unreachable_redis_is_a_clear_error_naming_pubsub_url() -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/15"

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match=r"^cannot reach PUBSUB_URL=redis://:\*\*\*@") as e:
            await RedisBackend(url).connect(Inbox())
        assert "s3cret" not in str(e.value)

    run(scenario)


@pytest.mark.redis
def test_other_processes_get_each_frame_once_and_the_sender_never(redis_url: str) -> None:
    async def scenario() -> None:
        prefix = unique_prefix()
        (a, to_a), (b, to_b) = [await connected(redis_url, prefix) for _ in range(2)]
        await a.subscribe("room")
        await b.subscribe("room")
        await a.publish("room", to_frame("héllo"))
        await a.publish("room", to_frame(b"\x00\xff"))
        await a.publish("room", to_frame({"n": 1}))
        assert await to_b.wait_for(3) == [
            ("room", {"type": "websocket.send", "text": "héllo"}),
            ("room", {"type": "websocket.send", "bytes": b"\x00\xff"}),
            ("room", {"type": "websocket.send", "text": '{"n":1}'}),
        ]
        # Redis hands a's own messages back to a before this one, which b sent after them.
        await b.publish("room", to_frame("from b"))
        assert await to_a.wait_for(1) == [("room", {"type": "websocket.send", "text": "from b"})]
        await a.publish("room", to_frame("last"))
        assert len(await to_b.wait_for(4)) == 4
        assert to_b.items[-1][1]["text"] == "last"  # and no second copy before it
        await a.disconnect()
        await b.disconnect()

    run(scenario)


@pytest.mark.redis
def test_one_publisher_keeps_its_order(redis_url: str) -> None:
    async def scenario() -> None:
        prefix = unique_prefix()
        (a, _), (b, to_b) = [await connected(redis_url, prefix) for _ in range(2)]
        await b.subscribe("room")
        await asyncio.gather(*(a.publish("room", to_frame(str(n))) for n in range(200)))
        received = [frame["text"] for _, frame in await to_b.wait_for(200)]
        assert received == [str(n) for n in range(200)]
        await a.disconnect()
        await b.disconnect()

    run(scenario)


@pytest.mark.redis
def test_prefix_keeps_apps_apart_on_one_redis(redis_url: str) -> None:
    async def scenario() -> None:
        one, two = unique_prefix(), unique_prefix()
        (a, _), (c, to_c) = [await connected(redis_url, one) for _ in range(2)]
        (b, to_b), (d, _) = [await connected(redis_url, two) for _ in range(2)]
        for backend in (a, b, c, d):
            await backend.subscribe("room")
        raw = redis.asyncio.Redis.from_url(redis_url)
        watcher = raw.pubsub()
        await watcher.subscribe(f"{one}room")
        assert (await watcher.get_message(timeout=TIMEOUT) or {})["type"] == "subscribe"

        await a.publish("room", to_frame("app one"))
        assert await to_c.wait_for(1) == [("room", {"type": "websocket.send", "text": "app one"})]
        message = await watcher.get_message(timeout=TIMEOUT)
        assert message is not None
        assert message["channel"] == f"{one}room".encode()
        assert message["data"] == a.origin + b"tapp one"
        # Published after "app one" reached app one: had b heard it, it would come first.
        await d.publish("room", to_frame("app two"))
        assert await to_b.wait_for(1) == [("room", {"type": "websocket.send", "text": "app two"})]

        await watcher.aclose()
        await raw.aclose()
        for backend in (a, b, c, d):
            await backend.disconnect()

    run(scenario)


@pytest.mark.redis
def test_a_bad_message_is_logged_and_the_next_one_delivered(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        prefix = unique_prefix()
        a, to_a = await connected(redis_url, prefix)
        b, _ = await connected(redis_url, prefix)
        await a.subscribe("room")
        raw = redis.asyncio.Redis.from_url(redis_url)
        await raw.publish(f"{prefix}room", "not from a backend")
        await b.publish("room", to_frame("fine"))
        assert await to_a.wait_for(1) == [("room", {"type": "websocket.send", "text": "fine"})]
        await raw.aclose()
        await a.disconnect()
        await b.disconnect()

    with caplog.at_level(logging.WARNING, LOGGER):
        run(scenario)
    assert "unknown message format" in caplog.text


@pytest.mark.redis
def test_one_connection_subscribes_to_every_topic_once(redis_server: RedisServer) -> None:
    """Subscriptions follow the first and last local subscriber, on one connection."""

    class Subscriber:
        def __init__(self) -> None:
            self.id = uuid.uuid4().hex

        def deliver(self, frame: Frame, message_id: str | None = None) -> None:
            pass

    async def scenario() -> None:
        prefix = unique_prefix()
        backend = RedisBackend(redis_server.url, prefix)
        bus = Bus(backend)
        await bus.start()
        x, y = Subscriber(), Subscriber()
        for topic, subscriber in [("t1", x), ("t1", y), ("t2", x), ("t3", y)]:
            await bus.subscribe(topic, subscriber)
        await asyncio.gather(*(bus.publish(f"t{n % 3 + 1}", n) for n in range(50)))

        admin = redis.asyncio.Redis.from_url(redis_server.url)
        me = await admin.client_id()
        others = [c for c in await admin.client_list() if int(c["id"]) != me]
        assert sorted(int(c["sub"]) for c in others) == [0, 3]  # a publisher, a subscriber
        for topic in ("t1", "t2", "t3"):
            assert await numsub(admin, f"{prefix}{topic}") == 1

        await bus.unsubscribe("t1", x)
        assert await numsub(admin, f"{prefix}t1") == 1  # y is still there
        await bus.unsubscribe("t1", y)
        await bus.unsubscribe("t2", x)

        async def left() -> bool:
            return await numsub(admin, f"{prefix}t1") + await numsub(admin, f"{prefix}t2") == 0

        await eventually(left, "UNSUBSCRIBE t1 and t2")
        assert await numsub(admin, f"{prefix}t3") == 1
        await admin.aclose()
        await bus.stop()

    run(scenario)


@pytest.mark.redis
def test_outage_drops_publishes_then_resubscribes_live_topics(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend_module, "RETRY_MAX", 0.5)

    async def scenario() -> None:
        prefix = unique_prefix()
        (a, to_a), (b, to_b) = [await connected(redis_server.url, prefix) for _ in range(2)]
        for topic in ("room", "gone"):
            await a.subscribe(topic)
        await b.subscribe("room")

        await a.publish("room", to_frame("before"))
        assert await to_b.wait_for(1) == [("room", {"type": "websocket.send", "text": "before"})]

        redis_server.stop()

        async def both_noticed() -> bool:
            return caplog.text.count("lost Redis") == 2

        await eventually(both_noticed, "both backends to notice")
        started = time.monotonic()
        for n in range(3):
            await a.publish("room", to_frame(f"lost {n}"))  # never raises
        assert time.monotonic() - started < 1
        await a.unsubscribe("gone")
        await a.subscribe("later")  # does not wait for Redis either
        assert time.monotonic() - started < 1

        redis_server.start()
        admin = redis.asyncio.Redis.from_url(redis_server.url)

        async def resubscribed() -> bool:
            counts = [await numsub(admin, f"{prefix}{t}") for t in ("room", "later", "gone")]
            return counts == [2, 1, 0]

        await eventually(resubscribed, "both backends to subscribe again")
        await a.publish("room", to_frame("back"))  # on a new connection: the old one is dead
        assert [frame["text"] for _, frame in await to_b.wait_for(2)] == ["before", "back"]
        await b.publish("later", to_frame("later"))
        assert await to_a.wait_for(1) == [("later", {"type": "websocket.send", "text": "later"})]
        await admin.aclose()
        await a.disconnect()
        await b.disconnect()

    with caplog.at_level(logging.INFO, LOGGER):
        run(scenario)
    assert "dropping publishes until it is back" in caplog.text
    assert "Redis is back: 2 topic(s) subscribed again, 3 publish(es) dropped" in caplog.text


@pytest.mark.redis
def test_a_silent_redis_is_detected_and_left(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link that stops answering (not closed) is found by PING and replaced."""
    monkeypatch.setattr(backend_module, "PING_SECONDS", 0.2)

    async def scenario() -> None:
        prefix = unique_prefix()
        (a, to_a), (b, _) = [await connected(redis_server.url, prefix) for _ in range(2)]
        await a.subscribe("room")
        admin = redis.asyncio.Redis.from_url(redis_server.url)
        await admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")

        async def noticed() -> bool:
            return "no answer to PING" in caplog.text

        await eventually(noticed, "the PING to go unanswered")

        async def resubscribed() -> bool:
            return await numsub(admin, f"{prefix}room") == 1

        await eventually(resubscribed, "a to subscribe again")
        await b.publish("room", to_frame("still here"))
        assert await to_a.wait_for(1) == [
            ("room", {"type": "websocket.send", "text": "still here"})
        ]
        await admin.aclose()
        await a.disconnect()
        await b.disconnect()

    with caplog.at_level(logging.INFO, LOGGER):
        run(scenario)
