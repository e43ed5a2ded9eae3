"""The chat room as SSE: a browser without WebSockets can follow it."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from httpx_sse import EventSource

pytestmark = pytest.mark.timeout(15)


def test_feed_follows_the_chat(client: TestClient) -> None:
    with client.stream("GET", "/api/chat/feed") as response:
        events = EventSource(response).iter_sse()
        assert next(events).event == "ready"
        with client.websocket_connect("/api/ws/chat") as ws:
            name = ws.receive_json()["message"].removeprefix("Welcome ").removesuffix("!")
            assert json.loads(next(events).data) == {"user": "server", "message": f"{name} joined!"}
            ws.send_text("to the feed")
            ws.receive_json()
            assert json.loads(next(events).data) == {"user": name, "message": "to the feed"}
