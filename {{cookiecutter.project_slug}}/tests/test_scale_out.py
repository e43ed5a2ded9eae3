"""Several processes, one room: real servers sharing PUBSUB_URL=redis://.

Each test uses a PUBSUB_PREFIX of its own, so that runs side by side on the
shared Redis never hear each other.
"""

from __future__ import annotations
{% if cookiecutter.include_examples %}
import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from httpx_sse import connect_sse
from websockets.sync.client import ClientConnection, connect

from .conftest import START_TIMEOUT, RedisServer, Server, ServerFactory, free_port
{%- else %}
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from .conftest import START_TIMEOUT, Server, ServerFactory, free_port
{%- endif %}

TIMEOUT = 10.0


def redis_env(url: str) -> dict[str, str]:
    return {"PUBSUB_URL": url, "PUBSUB_PREFIX": f"test-{uuid.uuid4().hex[:8]}:"}


def wait_for_exit(server: Server) -> int:
    return server.process.wait(START_TIMEOUT)


def eventually(check: Callable[[], bool], what: str) -> None:
    """Poll what has no event to await: a server's log, another client's view of Redis."""
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def worker_pids(server: Server) -> list[int]:
    """The worker processes uvicorn started for `server` (Linux: read from /proc)."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("telling workers apart reads /proc (Linux)")
    pids = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((process / "stat").read_text().rpartition(")")[2].split()[1])
            command = (process / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if parent == server.process.pid and b"resource_tracker" not in command:
            pids.append(int(process.name))
    return pids


def test_workers_on_memory_refuse_to_start(server_factory: ServerFactory) -> None:
    server = server_factory("--workers", "2", env={"PUBSUB_URL": "memory://"}, wait=False)
    assert wait_for_exit(server) == 2
    assert "--workers 2 needs a shared pub/sub" in server.output()
    assert "PUBSUB_URL=redis://" in server.output()


def test_unreachable_redis_stops_start_up_naming_pubsub_url(server_factory: ServerFactory) -> None:
    port = free_port()
    env = {"PUBSUB_URL": f"redis://:s3cret@127.0.0.1:{port}/15"}
    server = server_factory(env=env, wait=False)
    assert wait_for_exit(server) != 0
    output = server.output()
    assert f"cannot reach PUBSUB_URL=redis://:***@127.0.0.1:{port}/15" in output
    assert "s3cret" not in output

{%- if cookiecutter.include_examples %}


class Client:
    """A chat client: who it is, and the messages it reads, one at a time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        welcome = re.fullmatch(r"Welcome (\S+)!", self.next()["message"])
        assert welcome is not None
        self.name = welcome[1]
        # The pong comes after `open` is done, and with it the subscription to the room.
        # Another client's "joined!", published just before this one subscribed and still
        # on its way from Redis to this worker, may come first: at most once is not "never".
        self.say("ping")
        while (message := self.next()) != server_says("pong"):
            assert message["user"] == "server" and message["message"].endswith(" joined!"), message

    def say(self, text: str) -> None:
        self.ws.send(text)

    def next(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.ws.recv(timeout=TIMEOUT))
        return message

    def next_from(self, user: str) -> dict[str, Any]:
        """The next message from `user`, past server notices (joins and leaves)."""
        while (message := self.next())["user"] == "server":
            pass
        assert message["user"] == user, message
        return message

    def worker(self, server: Server) -> int:
        return worker_of(server, self.ws.socket.getsockname()[1])


def server_says(text: str) -> dict[str, str]:
    return {"user": "server", "message": text}


def says(client: Client, text: str) -> dict[str, str]:
    return {"user": client.name, "message": text}


@pytest.fixture
def clients() -> Iterator[Callable[[Server], Client]]:
    """Join the chat room of a server; every client is closed afterwards."""
    with contextlib.ExitStack() as stack:

        def join(server: Server) -> Client:
            url = f"{server.ws_url}/api/ws/chat"
            return Client(stack.enter_context(connect(url, open_timeout=TIMEOUT)))

        yield join


@pytest.mark.redis
def test_two_servers_share_the_room_once_each_never_the_sender(
    server_factory: ServerFactory, redis_url: str, clients: Callable[[Server], Client]
) -> None:
    env = redis_env(redis_url)
    one, two = server_factory(env=env), server_factory(env=env)
    a = clients(one)
    c = clients(one)
    assert a.next() == server_says(f"{c.name} joined!")
    b = clients(two)
    assert a.next() == c.next() == server_says(f"{b.name} joined!")

    burst = [f"a{n}" for n in range(20)]
    for text in burst:
        a.say(text)
    for text in burst:  # in order, once each: echoed to a, published to the others
        assert a.next() == b.next() == c.next() == says(a, text)
    b.say("from b")
    assert b.next() == a.next() == c.next() == says(b, "from b")
    c.say("from c")
    assert c.next() == a.next() == b.next() == says(c, "from c")
    # Last, a message each way between the servers: a copy of anything above coming
    # back through Redis would have arrived before it.
    b.say("to one")
    assert b.next() == a.next() == c.next() == says(b, "to one")
    a.say("to two")
    assert a.next() == c.next() == b.next() == says(a, "to two")

    a.ws.close()
    assert b.next() == c.next() == server_says(f"{a.name} left!")


@pytest.mark.redis
def test_workers_share_the_room(
    server_factory: ServerFactory, redis_url: str, clients: Callable[[Server], Client]
) -> None:
    server = server_factory("--workers", "2", env=redis_env(redis_url))
    eventually(lambda: len(worker_pids(server)) == 2, "two workers")
    first = clients(server)
    # The kernel gives each connection to one worker or the other: join until both have one.
    for _ in range(30):
        other = clients(server)
        if other.worker(server) != first.worker(server):
            break
    else:
        pytest.fail("30 connections all went to one worker")

    first.say("hello")
    assert first.next_from(first.name) == says(first, "hello")
    assert other.next_from(first.name) == says(first, "hello")
    other.say("hi")
    assert other.next_from(other.name) == says(other, "hi")
    assert first.next_from(other.name) == says(other, "hi")  # not a second "hello"
    first.say("bye")
    assert first.next_from(first.name) == says(first, "bye")
    assert other.next_from(first.name) == says(first, "bye")  # not a second "hi"
    assert server.stop() == 0


@pytest.mark.redis
def test_sse_feed_follows_the_room_on_another_server(
    server_factory: ServerFactory, redis_url: str, clients: Callable[[Server], Client]
) -> None:
    env = redis_env(redis_url)
    one, two = server_factory(env=env), server_factory(env=env)
    with (
        httpx.Client(timeout=TIMEOUT) as http,
        connect_sse(http, "GET", f"{two.url}/api/chat/feed") as source,
    ):
        events = source.iter_sse()
        assert next(events).event == "ready"  # sent once the stream follows the room
        a = clients(one)
        assert json.loads(next(events).data) == server_says(f"{a.name} joined!")
        a.say("over SSE")
        assert json.loads(next(events).data) == says(a, "over SSE")
        b = clients(two)
        assert json.loads(next(events).data) == server_says(f"{b.name} joined!")
        a.say("once")
        assert json.loads(next(events).data) == says(a, "once")


@pytest.mark.redis
def test_redis_outage_keeps_each_server_going_then_rejoins(
    server_factory: ServerFactory, redis_server: RedisServer, clients: Callable[[Server], Client]
) -> None:
    env = redis_env(redis_server.url)
    one, two = server_factory(env=env), server_factory(env=env)
    a = clients(one)
    c = clients(one)
    assert a.next() == server_says(f"{c.name} joined!")
    b = clients(two)
    assert a.next() == c.next() == server_says(f"{b.name} joined!")

    redis_server.stop()
    a.say("during")  # the handler goes on; the other server misses it
    assert a.next() == c.next() == says(a, "during")
    eventually(lambda: "dropp" in one.output(), "the dropped publish to be logged")

    redis_server.start()
    channel = env["PUBSUB_PREFIX"] + "chat"
    with redis.Redis.from_url(redis_server.url) as admin:

        def resubscribed() -> bool:
            [(_, count)] = admin.pubsub_numsub(channel)
            return int(count) == 2

        eventually(resubscribed, "both servers to subscribe again")
    b.say("after")
    assert b.next() == a.next() == c.next() == says(b, "after")
    a.say("after too")
    assert a.next() == c.next() == b.next() == says(a, "after too")  # "during" stays lost
    assert "Redis is back" in one.output()


def worker_of(server: Server, client_port: int) -> int:
    """The worker process holding the server side of the connection from `client_port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.rpartition(":")[2], 16) for address in fields[1:3])
        if (local, remote) == (server.port, client_port):
            inodes.add(f"socket:[{fields[9]}]")
    for pid in worker_pids(server):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds the connection from port {client_port}")
{%- else %}


@pytest.mark.redis
def test_workers_on_redis_start(server_factory: ServerFactory, redis_url: str) -> None:
    server = server_factory("--workers", "2", env=redis_env(redis_url))
    eventually(lambda: len(worker_pids(server)) == 2, "two workers")
    assert httpx.get(f"{server.url}/openapi.json", timeout=TIMEOUT).status_code == 200
    assert server.stop() == 0
{%- endif %}
