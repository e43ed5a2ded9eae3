"""Presence: who is in a topic, on one server (memory://) and across servers (Redis).

Peers connect to the `presence` route tree; `GET /online/<topic>` is that
server's `presence(topic)`. On Redis each test uses a PUBSUB_PREFIX of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio
from httpx_sse import connect_sse
from websockets.sync.client import ClientConnection, connect

from {{ cookiecutter.package_name }}.realtime.backends.redis_presence import (
    BEATS_PER_TTL,
    RedisPresence,
)
from {{ cookiecutter.package_name }}.realtime.presence import Member, Presence, member

from .conftest import RedisServer, Server, ServerFactory
from .test_scale_out import eventually, redis_env

TREE = Path(__file__).parent / "route_trees" / "presence"
TIMEOUT = 10.0
TTL = 2.0  # PRESENCE_TTL of the Redis tests' servers
HEARTBEAT = TTL / BEATS_PER_TTL
# What polling over HTTP may add to a deadline the servers keep.
SLACK = 0.5


class Client:
    """A peer in one topic's presence, and the frames it is sent."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.id = self.next_with("ready")["ready"]

    def next(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=TIMEOUT))
        return frame

    def next_with(self, key: str) -> dict[str, Any]:
        """The next frame that has `key`, past the others' joins and leaves."""
        while key not in (frame := self.next()):
            pass
        return frame

    def command(self, **command: Any) -> dict[str, Any]:
        self.ws.send(json.dumps(command))
        return self.next_with("done" if "bad" not in command else "refused")


Join = Callable[..., Client]


@pytest.fixture
def join() -> Iterator[Join]:
    """`join(server, topic, status)`: a peer in `topic`; every one is closed afterwards."""
    with contextlib.ExitStack() as stack:

        def start(server: Server, topic: str = "room", status: str = "here") -> Client:
            url = f"{server.ws_url}/ws/{topic}?status={status}"
            return Client(stack.enter_context(connect(url, open_timeout=TIMEOUT)))

        yield start


def online(server: Server, topic: str = "room") -> dict[str, dict[str, Any]]:
    """Member id -> {"name", "data"}, as `server` sees the topic."""
    response = httpx.get(f"{server.url}/online/{topic}", timeout=TIMEOUT)
    response.raise_for_status()
    return {entry.pop("id"): entry for entry in response.json()}


def entry(client: Client, status: str = "here") -> dict[str, Any]:
    return {"name": client.id[:8], "data": {"status": status}}


def test_member_data_is_what_json_makes_of_it() -> None:
    assert member("a" * 32, "aaaaaaaa", {"n": (1, 2), 3: None}) == Member(
        "a" * 32, "aaaaaaaa", {"n": [1, 2], "3": None}
    )
    assert member("b", "b", None).data == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["not", "a", "dict"], "presence data must be a dict, not list"),
        ({"when": object()}, "presence data must be JSON-serialisable"),
        ({"x": math.nan}, "presence data must be JSON-serialisable"),
    ],
)
def test_presence_data_json_cannot_carry_is_a_clear_type_error(data: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        member("a", "a", data)


def test_memory_lists_this_server_peers_with_their_data(
    server_factory: ServerFactory, join: Join
) -> None:
    server = server_factory(routes=TREE)
    a, b = join(server, status="busy"), join(server)
    other = join(server, topic="elsewhere")
    assert online(server) == {a.id: entry(a, "busy"), b.id: entry(b)}
    assert online(server, "elsewhere") == {other.id: entry(other)}
    assert online(server, "nobody") == {}


def test_sse_streams_follow_a_topic_without_being_in_its_presence(
    server_factory: ServerFactory, join: Join
) -> None:
    server = server_factory(routes=TREE)
    with (
        httpx.Client(timeout=TIMEOUT) as http,
        connect_sse(http, "GET", f"{server.url}/follow/room") as source,
    ):
        events = source.iter_sse()
        assert next(events).event == "ready"
        a = join(server)
        assert json.loads(next(events).data) == {"joined": a.id}  # it hears the room
        assert online(server) == {a.id: entry(a)}  # and is not in it


def test_memory_clean_close_leaves_presence_before_the_close_hook_runs(
    server_factory: ServerFactory, join: Join
) -> None:
    server = server_factory(routes=TREE)
    a, b = join(server), join(server)
    b.ws.close()
    assert a.next_with("left") == {"left": b.id}
    assert online(server) == {a.id: entry(a)}


def test_memory_unsubscribe_leaves_and_subscribing_again_replaces_the_data(
    server_factory: ServerFactory, join: Join
) -> None:
    server = server_factory(routes=TREE)
    a, b = join(server), join(server)
    a.command(status="away")
    assert online(server) == {a.id: entry(a, "away"), b.id: entry(b)}
    b.command(unsubscribe=True)
    assert online(server) == {a.id: entry(a, "away")}


def test_memory_refused_presence_data_changes_nothing(
    server_factory: ServerFactory, join: Join
) -> None:
    server = server_factory(routes=TREE)
    a = join(server, status="first")
    refused = a.command(bad=True)["refused"]
    assert refused.startswith("presence data must be JSON-serialisable")
    assert online(server) == {a.id: entry(a, "first")}


def presence_env(url: str, ttl: float = TTL) -> dict[str, str]:
    return {**redis_env(url), "PRESENCE_TTL": str(ttl)}


@pytest.fixture
def env(redis_url: str) -> Iterator[dict[str, str]]:
    """Servers' environment on the shared Redis; their prefix's keys are deleted afterwards.

    Ask for it before `server_factory`, so that the servers have stopped by then.
    """
    env = presence_env(redis_url)
    yield env
    with redis.Redis.from_url(redis_url) as admin:
        if keys := list(admin.scan_iter(match=env["PUBSUB_PREFIX"] + "*")):
            admin.delete(*keys)


def presence_keys(env: dict[str, str]) -> list[bytes]:
    with redis.Redis.from_url(env["PUBSUB_URL"]) as admin:
        return sorted(admin.scan_iter(match=env["PUBSUB_PREFIX"] + "presence:*"))


def origin_holding(env: dict[str, str], client: Client) -> bytes | None:
    """The id of the process whose members in "room" (in Redis) include `client`."""
    keys = env["PUBSUB_PREFIX"].encode() + b"presence:"
    with redis.Redis.from_url(env["PUBSUB_URL"]) as admin:
        for origin in admin.smembers(keys + b"processes"):
            if admin.hexists(keys + b"members:" + origin + b":room", client.id):
                return bytes(origin)
    return None


def until(check: Callable[[], bool], what: str, within: float) -> float:
    """Poll `check` (presence has no event to await); return the seconds it took."""
    start = time.monotonic()
    eventually(check, what)
    took = time.monotonic() - start
    assert took <= within, f"{what} took {took:.2f}s, more than {within:.2f}s"
    return took


@pytest.mark.redis
def test_two_servers_each_list_every_peer_of_both(
    env: dict[str, str], server_factory: ServerFactory, join: Join
) -> None:
    one, two = server_factory(routes=TREE, env=env), server_factory(routes=TREE, env=env)
    a, b, c = join(one, status="a"), join(two, status="b"), join(one)
    elsewhere = join(two, topic="elsewhere")
    expected = {a.id: entry(a, "a"), b.id: entry(b, "b"), c.id: entry(c)}
    assert online(one) == online(two) == expected
    assert online(one, "elsewhere") == {elsewhere.id: entry(elsewhere)}
    b.command(status="away")  # seen at once by the other server too
    assert online(one)[b.id] == entry(b, "away")
    c.command(unsubscribe=True)
    assert online(two) == {a.id: entry(a, "a"), b.id: entry(b, "away")}


@pytest.mark.redis
def test_clean_close_leaves_every_server_view_before_the_close_hook_runs(
    env: dict[str, str], server_factory: ServerFactory, join: Join
) -> None:
    one, two = server_factory(routes=TREE, env=env), server_factory(routes=TREE, env=env)
    a, b = join(one), join(two)
    b.ws.close()
    assert a.next_with("left") == {"left": b.id}  # published by b's close hook on two
    assert online(one) == online(two) == {a.id: entry(a)}


@pytest.mark.redis
def test_clean_stop_withdraws_every_presence_key(
    env: dict[str, str], server_factory: ServerFactory, join: Join
) -> None:
    server = server_factory(routes=TREE, env=env)
    join(server)
    join(server, topic="elsewhere")
    assert presence_keys(env)
    server.stop()  # uvicorn exits by the signal it handled, hence no exit code to check
    assert presence_keys(env) == []


@pytest.mark.redis
def test_killed_server_drops_out_within_presence_ttl_and_is_swept(
    env: dict[str, str], server_factory: ServerFactory, join: Join
) -> None:
    one, two = server_factory(routes=TREE, env=env), server_factory(routes=TREE, env=env)
    a, b = join(one), join(two)
    # Waiting is what this checks: the heartbeat keeps a live server in, all along.
    deadline = time.monotonic() + TTL * 1.5
    while time.monotonic() < deadline:
        assert online(one) == online(two) == {a.id: entry(a), b.id: entry(b)}
    dead = origin_holding(env, b)

    two.stop(signal.SIGKILL)
    until(lambda: online(one) == {a.id: entry(a)}, "the killed server to drop out", TTL + SLACK)
    # one's next heartbeat deletes what the dead server left behind.
    assert dead is not None

    def swept() -> bool:
        return not any(dead in key for key in presence_keys(env))

    until(swept, "the sweep", HEARTBEAT + SLACK)
    assert origin_holding(env, a) is not None


@pytest.mark.redis
def test_lost_presence_keys_are_written_again_within_one_heartbeat(
    env: dict[str, str], server_factory: ServerFactory, join: Join
) -> None:
    one, two = server_factory(routes=TREE, env=env), server_factory(routes=TREE, env=env)
    a, b = join(one), join(two)
    with redis.Redis.from_url(env["PUBSUB_URL"]) as admin:
        admin.delete(*presence_keys(env))  # as a FLUSHDB would
    both = {a.id: entry(a), b.id: entry(b)}
    until(lambda: online(one) == online(two) == both, "presence again", HEARTBEAT + SLACK)


@pytest.mark.redis
@pytest.mark.parametrize("saved", [False, True], ids=["empty", "saved"])
def test_redis_outage_and_return_leave_presence_correct_within_one_heartbeat(
    server_factory: ServerFactory, redis_server: RedisServer, join: Join, saved: bool
) -> None:
    # A TTL long enough that the saved keys are still alive when Redis is back.
    ttl = 6.0
    env = presence_env(redis_server.url, ttl)
    one, two = server_factory(routes=TREE, env=env), server_factory(routes=TREE, env=env)
    a, b, gone = join(one), join(two), join(two)
    assert len(online(one)) == 3
    if saved:  # Redis comes back with what it had: `gone` is still there
        with redis.Redis.from_url(redis_server.url) as admin:
            admin.save()

    redis_server.stop()
    assert online(one) == {a.id: entry(a)}  # each server still knows its own
    gone.ws.close()
    eventually(lambda: gone.id not in online(two), "the close to reach two")
    c = join(one)  # joins while Redis is away
    assert online(one) == {a.id: entry(a), c.id: entry(c)}

    redis_server.start()
    expected = {a.id: entry(a), b.id: entry(b), c.id: entry(c)}
    heartbeat = ttl / BEATS_PER_TTL
    until(lambda: online(one) == online(two) == expected, "presence again", heartbeat + SLACK)
    assert "presence: Redis is back" in one.output()


@pytest.mark.redis
def test_silent_process_drops_out_when_its_alive_key_expires_before_any_sweep(
    env: dict[str, str],
) -> None:
    redis_url, prefix = env["PUBSUB_URL"], env["PUBSUB_PREFIX"]

    async def scenario() -> None:
        reader = RedisPresence(redis_url, prefix, ttl=30)  # its sweeps are 10 s apart
        silent = RedisPresence(redis_url, prefix, ttl=0.5)
        await Presence(reader).start()
        presence = Presence(silent)
        await presence.start()
        await presence.join("room", Member("s", "silent", {"n": 1}))
        assert await reader.others("room") == [Member("s", "silent", {"n": 1})]
        assert silent._heartbeat is not None
        silent._heartbeat.cancel()  # as if killed: nothing withdraws it
        await silent._redis.aclose()
        await asyncio.sleep(0.6)
        assert await reader.others("room") == []
        client = redis.asyncio.Redis.from_url(redis_url)
        members = f"{prefix}presence:members:{silent.origin.decode()}:room"
        assert await client.exists(members)  # not swept yet: the reader saw it expire
        await reader.beat()
        assert await client.exists(members) == 0
        await reader.stop()
        await client.aclose()

    asyncio.run(asyncio.wait_for(scenario(), 30))


@pytest.mark.redis
def test_heartbeat_costs_the_same_commands_for_a_thousand_members_as_for_one(
    redis_server: RedisServer,
) -> None:
    async def commands_per_beat(store: RedisPresence, client: redis.asyncio.Redis) -> int:
        before = (await client.info("stats"))["total_commands_processed"]
        for _ in range(5):
            await store.beat()
        after = (await client.info("stats"))["total_commands_processed"]
        return (after - before - 1) // 5  # the first INFO counts too

    async def scenario() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        store = RedisPresence(redis_server.url, redis_env("")["PUBSUB_PREFIX"], ttl=30)
        presence = Presence(store)
        await presence.start()
        await presence.join("room", Member("0", "zero", {}))
        one = await commands_per_beat(store, client)
        for n in range(1, 1000):
            await presence.join(f"room-{n % 100}", Member(str(n), f"peer-{n}", {"n": n}))
        # PEXPIRE and the sweep's EVAL, whose SMEMBERS and one EXISTS per process count too.
        assert await commands_per_beat(store, client) == one == 4
        await presence.stop()
        await client.aclose()

    asyncio.run(asyncio.wait_for(scenario(), 30))
