"""The chat room's invariants under arbitrary frames and any order of joins and leaves.

Hypothesis writes a script of actions; the test plays it against the chat sample and,
after every step, checks each client's frames against a model of the room: everyone
but the sender gets each message once (the sender its echo), joins and leaves are
announced to the others, and nobody who left is still in the room to be sent anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import WebSocketTestSession

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.realtime import Hub

from .conftest import make_settings

CHAT = "/api/ws/chat"
PONG = {"user": "server", "message": "pong"}
# TestClient's receive cannot time out: pytest-timeout bounds the whole run instead.
pytestmark = pytest.mark.timeout(60)

texts = st.one_of(
    st.text(max_size=40),
    st.builds("{}ping{}".format, st.text(max_size=5), st.text(max_size=5)),
)
frames = st.one_of(
    texts,
    texts.map(str.encode),  # binary, but valid UTF-8: the chat reads it as text
    st.binary(max_size=40),  # mostly not UTF-8: the hook fails, the room goes on
)
members = st.integers(min_value=0, max_value=7)  # taken modulo the number present
actions = st.lists(
    st.one_of(
        st.tuples(st.just("join")),
        st.tuples(st.just("leave"), members),
        st.tuples(st.just("say"), members, frames),
    ),
    max_size=25,
)


@dataclass
class Member:
    name: str
    ws: WebSocketTestSession


def server(message: str) -> dict[str, str]:
    return {"user": "server", "message": message}


def join(client: TestClient, present: list[Member]) -> Member:
    member = Member("", client.websocket_connect(CHAT).__enter__())
    present.append(member)
    welcome = member.ws.receive_json()
    member.name = welcome["message"].removeprefix("Welcome ").removesuffix("!")
    assert welcome == server(f"Welcome {member.name}!")
    return member


def as_text(frame: str | bytes) -> str | None:
    """What the chat makes of a frame: its text, or None when it cannot decode it."""
    if isinstance(frame, str):
        return frame
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        return None


def received(member: Member, expected: list[Any]) -> list[Any]:
    """Every frame the member got until the pong of a ping sent now (the pong left out).

    A session handles its frames in order, so the pong comes after whatever the
    room sent it before the ping was read.
    """
    member.ws.send_text("ping")
    frames: list[Any] = []
    while frames.count(PONG) < expected.count(PONG) + 1:
        frames.append(member.ws.receive_json())
    return frames[:-1]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=actions)
def test_the_room_keeps_its_invariants(script: list[tuple[Any, ...]]) -> None:
    with TestClient(create_app(make_settings(ws_rate_limit=100_000))) as client:
        hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
        present: list[Member] = []
        try:
            for action in script:
                play(client, hub, present, action)
        finally:  # an open session would keep TestClient from ever exiting
            for member in present:
                member.ws.__exit__(None, None, None)
    assert not hub.open and hub.connections == 0 and hub.bus.subscribers("chat") == 0


def play(client: TestClient, hub: Hub, present: list[Member], action: tuple[Any, ...]) -> None:
    """Play one action, then check every member's frames against the model."""
    expected: dict[str, list[Any]] = {m.name: [] for m in present}
    actor: Member | None = None
    if action[0] == "join":
        actor = join(client, present)
        for name in expected:
            expected[name].append(server(f"{actor.name} joined!"))
        expected[actor.name] = []
    elif present and action[0] == "leave":
        gone = present.pop(action[1] % len(present))
        gone.ws.__exit__(None, None, None)
        del expected[gone.name]
        for name in expected:
            expected[name].append(server(f"{gone.name} left!"))
    elif present:
        actor = present[action[1] % len(present)]
        frame: str | bytes = action[2]
        kind = "text" if isinstance(frame, str) else "bytes"
        actor.ws.send({"type": "websocket.receive", kind: frame})
        text = as_text(frame)
        if text is not None and "ping" in text:
            expected[actor.name].append(PONG)
        elif text is not None:
            message = {"user": actor.name, "message": text}
            for name in expected:
                expected[name].append(message)

    # The actor first: once it has its pong, its hook has run to the end.
    for member in sorted(present, key=lambda m: m is not actor):
        assert received(member, expected[member.name]) == expected[member.name]
    assert sorted(str(peer) for peer in hub.open) == sorted(m.name for m in present)
    assert hub.bus.subscribers("chat") == len(present)
