"""Presence: who is in a topic, on one server (memory://) and across servers (Redis).

Peers connect to the `presence` route tree; `GET /online/<topic>` is that
server's `presence(topic)`. On Redis each test uses a PUBSUB_PREFIX of its own.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from {{ cookiecutter.package_name }}.realtime.presence import Member, member

from .conftest import Server, ServerFactory

TREE = Path(__file__).parent / "route_trees" / "presence"
TIMEOUT = 10.0


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
