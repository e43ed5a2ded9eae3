"""The chat room as SSE: a browser without WebSockets can follow it."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from httpx_sse import EventSource

from .conftest import RECEIVE_TIMEOUT, within

pytestmark = pytest.mark.timeout(15)


def test_feed_follows_the_chat(client: TestClient) -> None:
    with client.stream("GET", "/api/chat/feed") as response:
        events = EventSource(response).iter_sse()
        assert within(RECEIVE_TIMEOUT, next, events).event == "ready"
        with client.websocket_connect("/api/ws/chat") as ws:
            name = ws.receive_json()["message"].removeprefix("Welcome ").removesuffix("!")
            joined = within(RECEIVE_TIMEOUT, next, events)
            assert json.loads(joined.data) == {"user": "server", "message": f"{name} joined!"}
            ws.send_text("to the feed")
            ws.receive_json()
            said = within(RECEIVE_TIMEOUT, next, events)
            assert json.loads(said.data) == {"user": name, "message": "to the feed"}
