"""The rooms sample (CONTRACT section 6): real servers, real sockets, one server and two on Redis."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from .conftest import Server, ServerFactory
from .test_asyncapi import channel_at, operations_of, payload, resolve, served_document
from .test_scale_out import redis_env

pytestmark = pytest.mark.timeout(30)
TIMEOUT = 10.0
FRAME_KEYS = {"type", "id", "room", "user", "text", "time"}


class Visitor:
    """Someone in a room: their name, and the frames the server sends them, one at a time."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        # Frames are read once `open` is done, so the reply to an invalid one comes after
        # the arrival's replay, the join and the subscriptions: a barrier that says nothing.
        self.ws.send("{}")
        arrival: list[dict[str, Any]] = []
        while "error" not in (frame := self.next()):
            arrival.append(frame)
        self.arrival = arrival

    def say(self, text: str) -> None:
        self.ws.send(json.dumps({"text": text}))

    def next(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=TIMEOUT))
        return frame

    def texts(self, count: int) -> list[dict[str, Any]]:
        """The next `count` frames, which must all be messages."""
        frames = [self.next() for _ in range(count)]
        assert [frame["type"] for frame in frames] == ["message"] * count, frames
        return frames

    def said(self, who: Visitor, text: str) -> dict[str, Any]:
        """The next frame, which must be `who` saying `text`."""
        frame = self.next()
        assert (frame["type"], frame["user"], frame["text"]) == ("message", who.name, text), frame
        return frame

    def sees(self, kind: str, who: Visitor) -> None:
        frame = self.next()
        assert (frame["type"], frame["user"]) == (kind, who.name), frame


Enter = Callable[..., Visitor]


@pytest.fixture
def enter() -> Iterator[Enter]:
    """`enter(server, room, name, since=None)`: a visitor in `room`; all leave afterwards."""
    with contextlib.ExitStack() as stack:

        def start(server: Server, room: str, name: str, since: str | None = None) -> Visitor:
            query = httpx.QueryParams({"name": name, **({"since": since} if since else {})})
            url = f"{server.ws_url}/api/ws/rooms/{room}?{query}"
            return Visitor(stack.enter_context(connect(url, open_timeout=TIMEOUT)), name)

        yield start


@pytest.fixture
def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def online(server: Server, room: str) -> list[str]:
    response = httpx.get(f"{server.url}/api/rooms/{room}/online", timeout=TIMEOUT)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["room"] == room
    names: list[str] = body["online"]
    return names


def talk(speaker: Visitor, count: int, prefix: str = "m") -> list[dict[str, Any]]:
    """`speaker` says `count` texts and reads them back; returns the frames everyone gets."""
    texts = [f"{prefix}{n}" for n in range(count)]
    for text in texts:
        speaker.say(text)
    return [speaker.said(speaker, text) for text in texts]


def test_the_asyncapi_document_says_what_a_room_receives_and_sends() -> None:
    document = served_document()
    channel, described = channel_at(document, "/api/ws/rooms/{room}")
    assert set(described["parameters"]) == {"room"}
    operations = operations_of(document, channel)
    received = payload(document, operations["receive"])
    text = received["properties"]["text"]
    assert (text["type"], text["minLength"], text["maxLength"]) == ("string", 1, 2000)
    assert received["required"] == ["text"] and received["additionalProperties"] is False
    sent = payload(document, operations["send"])
    kinds = [resolve(document, frame["$ref"])["properties"]["type"] for frame in sent["anyOf"]]
    assert [kind.get("const") or kind["enum"] for kind in kinds] == [
        "message",
        ["join", "leave"],
        "gap",
    ]


@pytest.mark.parametrize("query", ["", "?name=", f"?name={'x' * 33}"], ids=["none", "empty", "33"])
def test_a_name_that_is_not_1_to_32_characters_is_refused(live_server: Server, query: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{live_server.ws_url}/api/ws/rooms/lobby{query}", open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 400


@pytest.mark.parametrize("name", ["x", "é" * 32, "Ann Lee"])
def test_a_name_of_1_to_32_characters_enters(live_server: Server, enter: Enter, name: str) -> None:
    visitor = enter(live_server, "lobby", name)
    visitor.say("hi")
    assert visitor.said(visitor, "hi")["user"] == name


def test_each_text_reaches_everyone_in_the_room_once_in_one_order(
    live_server: Server, enter: Enter, room: str
) -> None:
    ann = enter(live_server, room, "ann")
    bob = enter(live_server, room, "bob")
    ann.sees("join", bob)
    elsewhere = enter(live_server, f"{room}-other", "cyd")
    for n in range(20):  # all at once from both: the server picks the order
        ann.say(f"ann{n}")
        bob.say(f"bob{n}")
    seen_by_ann, seen_by_bob = ann.texts(40), bob.texts(40)
    assert seen_by_ann == seen_by_bob
    assert sorted(frame["text"] for frame in seen_by_ann) == sorted(
        [f"ann{n}" for n in range(20)] + [f"bob{n}" for n in range(20)]
    )
    assert len({frame["id"] for frame in seen_by_ann}) == 40
    for frame in seen_by_ann:
        assert set(frame) == FRAME_KEYS
        assert frame["room"] == room and frame["user"] == frame["text"][:3]
        assert datetime.fromisoformat(frame["time"]).tzinfo is not None
    # Another room heard none of it: its next frame is its own.
    elsewhere.say("here")
    elsewhere.said(elsewhere, "here")


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[]",
        '{"text": ""}',
        json.dumps({"text": "x" * 2001}),
        '{"text": 5}',
        '{"message": "hi"}',
        '{"text": "hi", "to": "bob"}',
    ],
    ids=["not-json", "not-an-object", "empty", "2001", "not-text", "no-text", "extra-field"],
)
def test_anything_but_a_text_gets_the_error_frame_and_the_room_goes_on(
    live_server: Server, enter: Enter, room: str, frame: str
) -> None:
    ann = enter(live_server, room, "ann")
    bob = enter(live_server, room, "bob")
    ann.sees("join", bob)
    ann.ws.send(frame)
    error = ann.next()
    assert error["error"] == "invalid message"
    assert isinstance(error["detail"], list) and error["detail"]
    ann.say("x" * 2000)  # still open, and the longest text goes through
    assert bob.said(ann, "x" * 2000) == ann.said(ann, "x" * 2000)  # nothing reached bob before


def test_join_and_leave_reach_the_others_once_online_says_so(
    live_server: Server, enter: Enter, room: str
) -> None:
    assert online(live_server, room) == []
    bob = enter(live_server, room, "bob")
    ann = enter(live_server, room, "ann")
    bob.sees("join", ann)
    assert online(live_server, room) == ["ann", "bob"]
    ann.ws.close()
    bob.sees("leave", ann)
    assert online(live_server, room) == ["bob"]


def test_a_name_connected_twice_is_online_once_and_leaves_with_its_last_connection(
    live_server: Server, enter: Enter, room: str
) -> None:
    bob = enter(live_server, room, "bob")
    ann = enter(live_server, room, "ann")
    bob.sees("join", ann)
    again = enter(live_server, room, "ann")  # a second tab: nobody new
    assert online(live_server, room) == ["ann", "bob"]
    ann.ws.close()
    again.say("still here")
    bob.said(again, "still here")  # no leave before it
    assert online(live_server, room) == ["ann", "bob"]
    again.ws.close()
    bob.sees("leave", again)
    assert online(live_server, room) == ["bob"]


def test_arrival_shows_the_last_50_messages_then_live_ones(
    server_factory: ServerFactory, enter: Enter, room: str
) -> None:
    server = server_factory(env={"WS_RATE_LIMIT": "1000"})  # 60 texts at once
    ann = enter(server, room, "ann")
    said = talk(ann, 60)
    bob = enter(server, room, "bob")
    assert bob.arrival == said[10:]
    ann.sees("join", bob)
    ann.say("live")
    assert bob.said(ann, "live") == ann.said(ann, "live")


def test_since_replays_exactly_what_was_missed_then_live_ones(
    live_server: Server, enter: Enter, room: str
) -> None:
    ann = enter(live_server, room, "ann")
    bob = enter(live_server, room, "bob")
    ann.sees("join", bob)
    before = talk(ann, 3, "before")
    assert bob.texts(3) == before
    bob.ws.close()
    ann.sees("leave", bob)
    missed = talk(ann, 4, "missed")

    back = enter(live_server, room, "bob", since=before[-1]["id"])
    assert back.arrival == missed
    ann.sees("join", back)
    ann.say("live")
    back.said(ann, "live")  # neither a gap nor a second copy of anything came before it


def test_since_older_than_history_gets_what_is_kept_then_a_gap(
    server_factory: ServerFactory, enter: Enter, room: str
) -> None:
    server = server_factory(env={"HISTORY_SIZE": "5"})
    ann = enter(server, room, "ann")
    said = talk(ann, 8)
    bob = enter(server, room, "bob", since=said[0]["id"])
    assert bob.arrival == [*said[3:], {"type": "gap"}]
    ann.sees("join", bob)
    ann.say("live")
    newest = bob.said(ann, "live")
    # Since the newest message: nothing to replay and no gap either.
    assert enter(server, room, "cyd", since=newest["id"]).arrival == []


@contextlib.contextmanager
def events(
    server: Server, room: str, headers: dict[str, str] | None = None, **query: str
) -> Iterator[Iterator[ServerSentEvent]]:
    """The room's `message` events, on a stream open from now on."""
    url = f"{server.url}/api/rooms/{room}/events"
    with (
        httpx.Client(timeout=TIMEOUT) as http,
        connect_sse(http, "GET", url, headers=dict(headers or {}), params=query) as source,
    ):
        yield messages(source.iter_sse())


def messages(stream: Iterator[ServerSentEvent]) -> Iterator[ServerSentEvent]:
    for event in stream:
        if event.event == "message":
            yield event
        else:
            assert event.id == "", event  # only messages carry ids


def assert_events_are(stream: Iterator[ServerSentEvent], frames: list[dict[str, Any]]) -> None:
    for frame in frames:
        event = next(stream)
        assert (event.id, json.loads(event.data)) == (frame["id"], frame)


def test_room_events_carry_message_ids_and_resume_after_last_event_id(
    live_server: Server, enter: Enter, room: str
) -> None:
    ann = enter(live_server, room, "ann")
    seen = talk(ann, 2, "seen")
    # Resuming from the newest id, the stream misses nothing said from then on.
    with events(live_server, room, {"Last-Event-ID": seen[-1]["id"]}) as stream:
        live = talk(ann, 2, "live")
        assert_events_are(stream, live)
    missed = talk(ann, 3, "missed")
    with events(live_server, room, {"Last-Event-ID": seen[0]["id"]}) as stream:
        assert_events_are(stream, [seen[1], *live, *missed])
    # A new EventSource cannot set the header: the query does the same.
    with events(live_server, room, last_event_id=live[-1]["id"]) as stream:
        assert_events_are(stream, missed)
        assert_events_are(stream, talk(ann, 1, "after"))


def test_room_events_say_when_history_no_longer_reaches_last_event_id(
    server_factory: ServerFactory, enter: Enter, room: str
) -> None:
    server = server_factory(env={"HISTORY_SIZE": "3"})
    ann = enter(server, room, "ann")
    said = talk(ann, 5)
    url = f"{server.url}/api/rooms/{room}/events"
    headers = {"Last-Event-ID": said[0]["id"]}
    with (
        httpx.Client(timeout=TIMEOUT) as http,
        connect_sse(http, "GET", url, headers=headers) as source,
    ):
        stream = source.iter_sse()
        gap = next(stream)
        assert (gap.event, gap.id) == ("gap", "")
        assert_events_are(messages(stream), said[2:])


@pytest.mark.redis
def test_two_servers_one_room_one_order(
    server_factory: ServerFactory, redis_url: str, enter: Enter, room: str
) -> None:
    env = redis_env(redis_url)
    one, two = server_factory(env=env), server_factory(env=env)
    ann = enter(one, room, "ann")
    bob = enter(two, room, "bob")
    ann.sees("join", bob)
    cyd = enter(one, room, "cyd")
    for visitor in (ann, bob):
        visitor.sees("join", cyd)
    for n in range(20):
        ann.say(f"ann{n}")
        bob.say(f"bob{n}")
    seen = [visitor.texts(40) for visitor in (ann, bob, cyd)]
    assert seen[0] == seen[1] == seen[2]
    assert len({frame["id"] for frame in seen[0]}) == 40
    # A copy of anything above coming back twice would arrive before this.
    cyd.say("last")
    for visitor in (ann, bob, cyd):
        visitor.said(cyd, "last")


@pytest.mark.redis
def test_a_visitor_back_on_the_other_server_with_since_gets_exactly_what_it_missed(
    server_factory: ServerFactory, redis_url: str, enter: Enter, room: str
) -> None:
    env = redis_env(redis_url)
    one, two = server_factory(env=env), server_factory(env=env)
    ann = enter(one, room, "ann")
    bob = enter(two, room, "bob")
    ann.sees("join", bob)
    before = talk(ann, 2, "before")
    assert bob.texts(2) == before
    bob.ws.close()
    ann.sees("leave", bob)
    missed = talk(ann, 5, "missed")

    back = enter(one, room, "bob", since=before[-1]["id"])
    assert back.arrival == missed
    ann.sees("join", back)
    ann.say("live")
    back.said(ann, "live")


@pytest.mark.redis
def test_online_lists_the_room_on_every_server(
    server_factory: ServerFactory, redis_url: str, enter: Enter, room: str
) -> None:
    env = redis_env(redis_url)
    one, two = server_factory(env=env), server_factory(env=env)
    ann = enter(one, room, "ann")
    bob = enter(two, room, "bob")
    ann.sees("join", bob)
    enter(two, room, "ann")  # ann again, on the other server
    assert online(one, room) == online(two, room) == ["ann", "bob"]
    bob.ws.close()
    ann.sees("leave", bob)
    assert online(one, room) == online(two, room) == ["ann"]


@pytest.mark.redis
def test_room_events_on_one_server_follow_texts_said_on_the_other(
    server_factory: ServerFactory, redis_url: str, enter: Enter, room: str
) -> None:
    env = redis_env(redis_url)
    one, two = server_factory(env=env), server_factory(env=env)
    ann = enter(one, room, "ann")
    seen = talk(ann, 1, "seen")
    with events(two, room, {"Last-Event-ID": seen[-1]["id"]}) as stream:
        live = talk(ann, 2, "live")
        assert_events_are(stream, live)
    missed = talk(ann, 2, "missed")
    with events(two, room, {"Last-Event-ID": live[-1]["id"]}) as stream:
        assert_events_are(stream, missed)
