"""The chat sample: welcome, joined and left, ping and pong, echo, and the rest to the others."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from .conftest import Server

pytestmark = pytest.mark.timeout(15)
CHAT = "/api/ws/chat"


def server(message: str) -> dict[str, str]:
    return {"user": "server", "message": message}


def welcome_name(frame: dict[str, str]) -> str:
    assert frame["user"] == "server" and frame["message"].startswith("Welcome ")
    name = frame["message"].removeprefix("Welcome ").removesuffix("!")
    assert name and " " not in name
    return name


def test_the_room(client: TestClient) -> None:
    with client.websocket_connect(CHAT) as a:
        alice = welcome_name(a.receive_json())
        with client.websocket_connect(CHAT) as b:
            bob = welcome_name(b.receive_json())
            assert a.receive_json() == server(f"{bob} joined!")

            a.send_text("hello")
            assert a.receive_json() == {"user": alice, "message": "hello"}  # the echo
            assert b.receive_json() == {"user": alice, "message": "hello"}

            b.send_text("ping")
            assert b.receive_json() == server("pong")
            b.send_text("is anyone there?")
            assert b.receive_json() == {"user": bob, "message": "is anyone there?"}
            # a gets b's message, never b's pong
            assert a.receive_json() == {"user": bob, "message": "is anyone there?"}
        assert a.receive_json() == server(f"{bob} left!")


def test_three_peers_each_message_once(client: TestClient) -> None:
    with (
        client.websocket_connect(CHAT) as a,
        client.websocket_connect(CHAT) as b,
        client.websocket_connect(CHAT) as c,
    ):
        names = [welcome_name(ws.receive_json()) for ws in (a, b, c)]
        assert a.receive_json() == server(f"{names[1]} joined!")
        assert a.receive_json() == server(f"{names[2]} joined!")
        assert b.receive_json() == server(f"{names[2]} joined!")
        c.send_text("hi all")
        for ws in (a, b, c):
            assert ws.receive_json() == {"user": names[2], "message": "hi all"}
        a.send_text("second")
        # Had c's message reached anyone twice, it would come before this one.
        for ws in (a, b, c):
            assert ws.receive_json() == {"user": names[0], "message": "second"}


def test_on_a_real_server(live_server: Server) -> None:
    url = live_server.ws_url + CHAT
    with connect(url, open_timeout=5) as a, connect(url, open_timeout=5) as b:
        alice = welcome_name(json.loads(a.recv(timeout=5)))
        bob = welcome_name(json.loads(b.recv(timeout=5)))
        assert json.loads(a.recv(timeout=5)) == server(f"{bob} joined!")
        b.send("over the wire")
        assert json.loads(a.recv(timeout=5)) == {"user": bob, "message": "over the wire"}
        assert json.loads(b.recv(timeout=5)) == {"user": bob, "message": "over the wire"}
        a.send("ping")
        assert json.loads(a.recv(timeout=5)) == server("pong")
        b.close()
        assert json.loads(a.recv(timeout=5)) == server(f"{bob} left!")
        assert alice != bob
