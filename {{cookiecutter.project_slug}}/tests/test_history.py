"""History, message ids and recovery, in memory and on Redis Streams.

The bus-level tests run on both backends (each "process" is a bus of its own
on Redis); the server-level ones run real servers with the `history` route
tree. Redis tests use a key and channel prefix of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from httpx_sse import EventSource, ServerSentEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from {{ cookiecutter.package_name }}.realtime import Bus, backend_from_url
from {{ cookiecutter.package_name }}.realtime.backends import redis as redis_module
from {{ cookiecutter.package_name }}.realtime.backends.base import Kept, id_order
from {{ cookiecutter.package_name }}.realtime.backends.redis import RedisBackend
from {{ cookiecutter.package_name }}.realtime.frames import Frame, encode_for_id, insert_id

from .conftest import RedisServer, Server, ServerFactory
from .test_redis import eventually, numsub

TREE = Path(__file__).parent / "route_trees" / "history"
TIMEOUT = 10.0
pytestmark = pytest.mark.timeout(60)


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 30))


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def pubsub_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


class Inbox:
    """A subscriber that records what it is delivered: (message id, text) pairs."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.items: list[tuple[str | None, str | bytes]] = []
        self._arrived = asyncio.Event()

    def deliver(self, frame: Frame, message_id: str | None = None) -> None:
        self.items.append((message_id, frame.get("text") or frame["bytes"]))
        self._arrived.set()

    @property
    def ids(self) -> list[str | None]:
        return [message_id for message_id, _ in self.items]

    async def wait_for(self, count: int) -> list[tuple[str | None, str | bytes]]:
        async with asyncio.timeout(TIMEOUT):
            while len(self.items) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.items


@contextlib.asynccontextmanager
async def buses(
    url: str, count: int = 1, *, size: int = 100, ttl: float = 60.0, prefix: str | None = None
) -> Any:
    """`count` buses sharing `url` (one on memory://, which has nobody to share with)."""
    prefix = prefix or unique_prefix()
    started = [
        Bus(backend_from_url(url, prefix), history_size=size, history_ttl=ttl)
        for _ in range(count if url != "memory://" else 1)
    ]
    for bus in started:
        await bus.start()
    try:
        yield started
    finally:
        for bus in started:
            await bus.stop()


def increasing(ids: list[str | None]) -> bool:
    orders = [order for message_id in ids if (order := id_order(message_id or "")) is not None]
    return len(orders) == len(ids) and all(a < b for a, b in itertools.pairwise(orders))


# --- pure functions


def test_the_id_goes_first_in_the_json_and_replaces_one_given() -> None:
    payload = encode_for_id({"id": "stale", "text": "hi"}, "id")
    assert insert_id(payload, "id", "5-0") == '{"id":"5-0","text":"hi"}'
    assert insert_id(encode_for_id({}, "id"), "id", "5-0") == '{"id":"5-0"}'
    assert insert_id(payload, "id", None) == '{"id":null,"text":"hi"}'


def test_bad_arguments_are_refused_before_anything_happens() -> None:
    async def scenario() -> None:
        async with buses("memory://") as [bus]:
            with pytest.raises(ValueError, match="limit must be 0 or more, not -1"):
                await bus.history("t", limit=-1)
            with pytest.raises(ValueError, match="last must be 0 or more, not -2"):
                await bus.subscribe("t", Inbox(), last=-2)
            with pytest.raises(TypeError, match=r"since must be a message id \(str\), not int"):
                await bus.subscribe("t", Inbox(), since=5)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="id_field needs a dict"):
                await bus.publish("t", "text", id_field="id")
            assert bus.topics == []
            assert (await bus.history("t")).entries == []

    run(scenario)


def test_id_field_needs_an_object() -> None:
    with pytest.raises(TypeError, match="id_field needs a dict or a pydantic model, not list"):
        encode_for_id([1, 2], "id")
    with pytest.raises(ValueError, match="one line"):
        encode_for_id({}, "a\nb")


# --- one bus or several, on either backend


def test_ids_increase_and_each_copy_carries_its_own(pubsub_url: str) -> None:
    async def scenario() -> None:
        async with buses(pubsub_url) as [bus]:
            inbox = Inbox()
            await bus.subscribe("t", inbox)
            ids = [await bus.publish("t", {"n": n, "id": "mine"}, id_field="id") for n in range(3)]
            ids += await asyncio.gather(
                *(bus.publish("t", {"n": n}, id_field="id") for n in range(3, 20))
            )
            assert increasing(ids)
            delivered = await inbox.wait_for(20)
            assert [message_id for message_id, _ in delivered] == ids
            assert [json.loads(text) for _, text in delivered] == [
                {"id": message_id, "n": n} for n, message_id in enumerate(ids)
            ]
            kept = await bus.history("t")
            assert [(entry.id, entry.data) for entry in kept.entries] == delivered
            assert await bus.publish("t", b"\x00binary") is not None
            assert (await bus.history("t", limit=1)).entries[0].data == b"\x00binary"

    run(scenario)


def test_history_keeps_the_newest_history_size(pubsub_url: str) -> None:
    async def scenario() -> None:
        async with buses(pubsub_url, size=3) as [bus]:
            ids = [await bus.publish("t", f"m{n}") for n in range(5)]
            kept = await bus.history("t")
            assert [entry.data for entry in kept.entries] == ["m2", "m3", "m4"]
            assert [entry.data for entry in (await bus.history("t", limit=2)).entries] == [
                "m3",
                "m4",
            ]
            assert (await bus.history("t", limit=0)).entries == []
            assert await bus.history("t", ids[2]) == Kept(kept.entries[1:], complete=True)
            assert await bus.history("t", ids[4]) == Kept([], complete=True)
            # What the history no longer reaches back to: everything kept, but not complete.
            for stale in (ids[1], "1-0", "garbage", ""):
                assert await bus.history("t", stale) == Kept(kept.entries, complete=False)
            assert await bus.history("never published", ids[4]) == Kept([], complete=False)
            assert await bus.history("never published") == Kept([], complete=True)

    run(scenario)


def test_messages_older_than_history_ttl_are_forgotten(pubsub_url: str) -> None:
    async def scenario() -> None:
        prefix = unique_prefix()
        async with buses(pubsub_url, size=10, ttl=0.6, prefix=prefix) as [bus]:
            first = await bus.publish("t", "first")
            await asyncio.sleep(0.4)  # the TTL is what is under test: time must pass
            second = await bus.publish("t", "second")
            await asyncio.sleep(0.4)
            kept = await bus.history("t")
            assert [entry.id for entry in kept.entries] == [second]
            assert not (await bus.history("t", first)).complete
            await asyncio.sleep(0.4)
            assert await bus.history("t", second) == Kept([], complete=False)
            if pubsub_url != "memory://":
                admin = redis.Redis.from_url(pubsub_url)
                assert admin.exists(f"{prefix}history:t") == 0  # the key expired too
                admin.close()

    run(scenario)


def test_history_size_zero_keeps_nothing_and_gives_no_ids(pubsub_url: str) -> None:
    async def scenario() -> None:
        async with buses(pubsub_url, size=0) as [bus]:
            inbox = Inbox()
            await bus.subscribe("t", inbox)
            assert await bus.publish("t", {"text": "x"}, id_field="id") is None
            assert await inbox.wait_for(1) == [(None, '{"id":null,"text":"x"}')]
            assert (await bus.history("t")).entries == []
            assert not await bus.subscribe("t", Inbox(), since=inbox.ids[0] or "1-0")

    run(scenario)


@pytest.mark.redis
def test_two_processes_agree_on_ids_and_order(redis_url: str) -> None:
    async def scenario() -> None:
        async with buses(redis_url, 2) as [one, two]:
            inboxes = [Inbox(), Inbox()]
            await one.subscribe("t", inboxes[0])
            await two.subscribe("t", inboxes[1])
            sent = await asyncio.gather(
                *(
                    bus.publish("t", {"n": n}, id_field="id")
                    for n in range(40)
                    for bus in (one, two)
                )
            )
            first, second = [await inbox.wait_for(80) for inbox in inboxes]
            assert first == second
            assert increasing([message_id for message_id, _ in first])
            assert sorted(sent, key=id_order) == [message_id for message_id, _ in first]
            kept = await two.history("t")
            assert [(entry.id, entry.data) for entry in kept.entries] == first

    run(scenario)


@pytest.mark.redis
def test_redis_history_outlives_the_process(redis_url: str) -> None:
    async def scenario() -> None:
        prefix = unique_prefix()
        async with buses(redis_url, prefix=prefix) as [before]:
            ids = [await before.publish("t", f"m{n}") for n in range(3)]
        async with buses(redis_url, prefix=prefix) as [after]:
            inbox = Inbox()
            assert await after.subscribe("t", inbox, since=ids[0])
            assert await inbox.wait_for(2) == [(ids[1], "m1"), (ids[2], "m2")]

    run(scenario)


@pytest.mark.redis
def test_redis_outage_delivers_here_returns_none_then_keeps_again(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        prefix = unique_prefix()
        async with buses(redis_server.url, prefix=prefix) as [bus]:
            inbox = Inbox()
            await bus.subscribe("t", inbox)
            before = await bus.publish("t", {"n": 1}, id_field="id")
            assert before is not None
            redis_server.stop()
            backend = bus.backend
            assert isinstance(backend, RedisBackend)

            async def lost() -> bool:
                return backend._live is None

            await eventually(lost, "the subscriber to notice the outage")
            assert await bus.publish("t", {"n": 2}, id_field="id") is None
            assert (await inbox.wait_for(2))[1] == (None, '{"id":null,"n":2}')
            assert not await bus.subscribe("u", Inbox(), since=before)  # history unreadable
            redis_server.start()
            admin = redis.asyncio.Redis.from_url(redis_server.url)

            async def resubscribed() -> bool:
                return await numsub(admin, f"{prefix}t") == 1

            await eventually(resubscribed, "SUBSCRIBE again after the outage")
            await admin.aclose()
            after = await bus.publish("t", {"n": 3}, id_field="id")
            assert after is not None  # the script is loaded again into the new Redis
            assert [entry.id for entry in (await bus.history("t")).entries] == [after]
            assert (await inbox.wait_for(3))[2] == (after, insert_id('{"n":3}', "id", after))

    with caplog.at_level(logging.WARNING, redis_module.__name__):
        run(scenario)
    assert "Redis is unreachable: dropping publishes until it is back" in caplog.text


@pytest.mark.redis
def test_a_process_that_lost_its_subscription_catches_up_from_history(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis stayed up, but this process's subscriber link dropped: what others published
    meanwhile still reaches its subscribers, once each and in order."""
    monkeypatch.setattr(redis_module, "RETRY_MIN", 1.0)  # a gap long enough to publish into

    async def scenario() -> None:
        async with buses(redis_server.url, 2) as [publisher, follower]:
            inbox = Inbox()
            await follower.subscribe("t", inbox)
            ids = [await publisher.publish("t", "before")]
            await inbox.wait_for(1)
            admin = redis.asyncio.Redis.from_url(redis_server.url)
            assert await admin.client_kill_filter(_type="pubsub") == 1  # the follower's
            await admin.aclose()
            backend = follower.backend
            assert isinstance(backend, RedisBackend)

            async def lost() -> bool:
                return backend._live is None

            await eventually(lost, "the follower to notice")
            ids += [await publisher.publish("t", f"missed {n}") for n in range(3)]
            assert [message_id for message_id, _ in await inbox.wait_for(4)] == ids
            ids.append(await publisher.publish("t", "after"))
            delivered = await inbox.wait_for(5)
            assert delivered == [(ids[0], "before")] + [
                (message_id, f"missed {n}") for n, message_id in enumerate(ids[1:4])
            ] + [(ids[4], "after")]

    run(scenario)


Plan = list[tuple[str, int]]
PLANS = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(1, 6)),
        st.tuples(st.sampled_from(["since", "last"]), st.integers(0, 40)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=PLANS)
def test_subscribe_with_replay_loses_nothing_and_repeats_nothing(
    pubsub_url: str, plan: Plan
) -> None:
    """Publishes run while subscribers replay: each sees one unbroken run of the topic's order."""

    async def scenario() -> None:
        async with buses(pubsub_url, 2) as started:
            known: list[str] = []  # ids returned so far, for `since`
            followers: list[tuple[Inbox, str | None, asyncio.Task[bool]]] = []
            publishing: list[asyncio.Future[Any]] = []

            async def publish(bus: Bus, n: int) -> None:
                message_id = await bus.publish("t", {"n": n}, id_field="id")
                assert message_id is not None
                known.append(message_id)

            for step, (kind, n) in enumerate(plan):
                bus = started[step % len(started)]
                if kind == "publish":
                    publishing += [asyncio.ensure_future(publish(bus, i)) for i in range(n)]
                else:
                    inbox = Inbox()
                    since = known[n % len(known)] if kind == "since" and known else None
                    replay = bus.subscribe("t", inbox, since=since, last=n if since is None else 0)
                    followers.append((inbox, since, asyncio.ensure_future(replay)))
                await asyncio.sleep(0)  # let what was started run into what comes next
            await asyncio.gather(*publishing)
            assert all([await task for _, _, task in followers])  # all still kept
            await publish(started[0], -1)  # the last message: everyone must end with it
            order = [entry.id for entry in (await started[-1].history("t")).entries]
            for inbox, since, _ in followers:
                async with asyncio.timeout(TIMEOUT):
                    while order[-1] not in inbox.ids:
                        await inbox.wait_for(len(inbox.items) + 1)
                ids = inbox.ids
                start = order.index(since) + 1 if since is not None else order.index(ids[0])
                assert ids == order[start:], f"since {since}"
                for message_id, text in inbox.items:
                    assert json.loads(text)["id"] == message_id

    run(scenario)


# --- real servers


def server_env(url: str, prefix: str, **extra: str) -> dict[str, str]:
    return {"PUBSUB_URL": url, "PUBSUB_PREFIX": prefix, **extra}


class Follower:
    """A WebSocket client of `/ws/<topic>`: the replay it got, whether complete, then live."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.replayed: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []  # read while waiting for a reply
        while (frame := self._receive()).get("type") != "subscribed":
            self.replayed.append(frame)
        self.complete: bool = frame["complete"]

    def next(self) -> dict[str, Any]:
        """The next message of the topic."""
        return self._pending.pop(0) if self._pending else self._receive()

    def say(self, text: str) -> str:
        """Publish `text` to the others; its id."""
        self.ws.send(text)
        while (frame := self._receive()).get("type") != "published":
            self._pending.append(frame)
        message_id: str = frame["id"]
        return message_id

    def _receive(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=TIMEOUT))
        return frame


@pytest.fixture
def follow() -> Iterator[Callable[..., Follower]]:
    with contextlib.ExitStack() as stack:

        def join(server: Server, topic: str, query: str = "") -> Follower:
            url = f"{server.ws_url}/ws/{topic}?{query}"
            return Follower(stack.enter_context(connect(url, open_timeout=TIMEOUT)))

        yield join


def publish_over_http(server: Server, topic: str, text: str) -> str:
    response = httpx.post(f"{server.url}/publish", params={"topic": topic, "text": text})
    response.raise_for_status()
    message_id: str = response.json()["id"]
    return message_id


def events(server: Server, path: str, **headers: str) -> contextlib.AbstractContextManager[Any]:
    """A raw EventSource-style request: a GET with the headers a browser's reconnect sends."""
    return httpx.stream("GET", f"{server.url}{path}", headers=headers, timeout=TIMEOUT)


def read(stream: Iterator[ServerSentEvent], count: int) -> list[tuple[str, str, str]]:
    return [(event.event, event.id, event.data) for event in itertools.islice(stream, count)]


def compact(data: Any) -> str:
    """JSON as the server writes it."""
    return json.dumps(data, separators=(",", ":"))


def message(message_id: str, text: str) -> tuple[str, str, str]:
    """A topic's message as an SSE event."""
    return ("message", message_id, compact({"id": message_id, "text": text}))


@pytest.mark.redis
def test_ids_agree_across_two_servers(
    server_factory: ServerFactory, redis_url: str, follow: Callable[..., Follower]
) -> None:
    env = server_env(redis_url, unique_prefix())
    one, two = server_factory(env=env, routes=TREE), server_factory(env=env, routes=TREE)
    a, b = follow(one, "room"), follow(two, "room")
    ids = []
    for n in range(6):
        ids.append(publish_over_http((one, two)[n % 2], "room", f"http {n}"))
        ids.append(a.say(f"a {n}") if n % 2 else b.say(f"b {n}"))
    assert increasing(ids)
    seen_by_a = [frame["id"] for frame in (a.next() for _ in range(9))]  # not its own 3
    seen_by_b = [frame["id"] for frame in (b.next() for _ in range(9))]
    assert seen_by_a == [i for n, i in enumerate(ids) if n % 4 != 3]
    assert seen_by_b == [i for n, i in enumerate(ids) if n % 4 != 1]


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_peer_that_comes_back_with_since_gets_exactly_what_it_missed(
    backend: str,
    server_factory: ServerFactory,
    request: pytest.FixtureRequest,
    follow: Callable[..., Follower],
) -> None:
    url = "memory://" if backend == "memory" else request.getfixturevalue("redis_url")
    env = server_env(url, unique_prefix())
    one = server_factory(env=env, routes=TREE)
    other = server_factory(env=env, routes=TREE) if backend == "redis" else one
    talker, leaver = follow(one, "room"), follow(one, "room")
    seen = [talker.say("before")]
    assert leaver.next()["id"] == seen[0]
    leaver.ws.close()
    missed = [talker.say(f"missed {n}") for n in range(5)]
    back = follow(other, "room", f"since={seen[0]}")  # whichever server it lands on
    assert back.complete
    assert back.replayed == [{"id": i, "text": f"missed {n}"} for n, i in enumerate(missed)]
    live = talker.say("live")
    assert back.next() == {"id": live, "text": "live"}  # once: not replayed, then sent again
    newcomer = follow(other, "room", "last=2")
    assert [frame["id"] for frame in newcomer.replayed] == [missed[-1], live]


@pytest.mark.redis
def test_an_event_source_resumes_across_servers_and_restarts(
    server_factory: ServerFactory, redis_url: str
) -> None:
    env = server_env(redis_url, unique_prefix())
    one, two = server_factory(env=env, routes=TREE), server_factory(env=env, routes=TREE)
    with events(one, "/sse/news") as response:
        stream = EventSource(response).iter_sse()
        first = publish_over_http(two, "news", "first")
        assert read(stream, 1) == [message(first, "first")]
    missed = [publish_over_http(one, "news", f"missed {n}") for n in range(3)]
    with events(two, "/sse/news", **{"Last-Event-ID": first}) as response:
        stream = EventSource(response).iter_sse()
        live = publish_over_http(one, "news", "live")
        expected = [message(i, f"missed {n}") for n, i in enumerate(missed)]
        assert read(stream, 4) == [*expected, message(live, "live")]
    # Every server stops: Redis still has the history for the next one.
    one.stop()
    two.stop()
    restarted = server_factory(env=env, routes=TREE)
    with events(restarted, f"/sse/news?last_event_id={missed[0]}") as response:
        stream = EventSource(response).iter_sse()
        assert read(stream, 3) == [*expected[1:], message(live, "live")]


def test_stale_since_says_so_on_websockets_and_sse(
    server_factory: ServerFactory, follow: Callable[..., Follower]
) -> None:
    server = server_factory(env=server_env("memory://", "", HISTORY_SIZE="2"), routes=TREE)
    ids = [publish_over_http(server, "room", f"m{n}") for n in range(4)]
    late = follow(server, "room", f"since={ids[0]}")
    assert not late.complete
    assert [frame["id"] for frame in late.replayed] == ids[2:]  # what is kept is still sent
    assert follow(server, "room", f"since={ids[2]}").complete
    with events(server, "/sse/room", **{"Last-Event-ID": ids[0]}) as response:
        stream = EventSource(response).iter_sse()
        gap, *replayed = read(stream, 3)
        assert gap == ("gap", "", compact({"since": ids[0]}))
        assert replayed == [message(ids[2], "m2"), message(ids[3], "m3")]
    with events(server, "/sse/room?last_event_id=garbled") as response:
        assert read(EventSource(response).iter_sse(), 1)[0][0] == "gap"
    response = httpx.get(f"{server.url}/history", params={"topic": "room", "since": ids[2]})
    assert response.json() == [{"id": ids[3], "data": message(ids[3], "m3")[2]}]
