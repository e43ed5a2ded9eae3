"""The ticker sample: one event per interval, ids counting up, resumable after `Last-Event-ID`."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import pairwise

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx_sse import EventSource, connect_sse

from .conftest import RECEIVE_TIMEOUT, Server, within

pytestmark = pytest.mark.timeout(15)


def read(
    client: TestClient, url: str, count: int, **kwargs: object
) -> list[tuple[str, dict[str, object]]]:
    with client.stream("GET", url, **kwargs) as response:  # type: ignore[arg-type]
        assert response.status_code == 200
        events = EventSource(response).iter_sse()
        ticks = [within(RECEIVE_TIMEOUT, next, events) for _ in range(count)]
    assert all(tick.event == "tick" for tick in ticks)
    return [(tick.id, json.loads(tick.data)) for tick in ticks]


def test_ticks_count_up_with_the_time(client: TestClient) -> None:
    ticks = read(client, "/api/sse?interval=0.1", 3)
    assert [event_id for event_id, _ in ticks] == ["1", "2", "3"]
    assert [data["count"] for _, data in ticks] == [1, 2, 3]
    times = [datetime.fromisoformat(str(data["time"])) for _, data in ticks]
    assert times == sorted(times)


def test_ticks_are_the_interval_apart(client: TestClient) -> None:
    ticks = read(client, "/api/sse?interval=0.2", 3)
    times = [datetime.fromisoformat(str(data["time"])) for _, data in ticks]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
    assert all(gap >= 0.19 for gap in gaps), gaps  # the times have millisecond precision


def test_resumes_after_last_event_id(client: TestClient) -> None:
    ticks = read(client, "/api/sse?interval=0.1", 2, headers={"Last-Event-ID": "41"})
    assert [event_id for event_id, _ in ticks] == ["42", "43"]


def test_a_new_event_source_resumes_from_the_query_and_the_header_wins(client: TestClient) -> None:
    assert read(client, "/api/sse?interval=0.1&last_event_id=41", 1)[0][0] == "42"
    headers = {"Last-Event-ID": "7"}
    assert read(client, "/api/sse?interval=0.1&last_event_id=41", 1, headers=headers)[0][0] == "8"


@pytest.mark.parametrize("interval", ["0.05", "61", "0", "-1", "soon"])
def test_interval_outside_the_range_is_422(client: TestClient, interval: str) -> None:
    assert client.get("/api/sse", params={"interval": interval}).status_code == 422


@pytest.mark.parametrize("interval", ["0.1", "60"])
def test_interval_bounds_are_accepted_and_the_first_tick_is_immediate(
    client: TestClient, interval: str
) -> None:
    assert read(client, f"/api/sse?interval={interval}", 1)[0][0] == "1"


def test_on_a_real_server(live_server: Server) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=5) as http,
        connect_sse(http, "GET", "/api/sse?interval=0.1", headers={"Last-Event-ID": "9"}) as source,
    ):
        assert source.response.headers["cache-control"] == "no-cache"
        events = source.iter_sse()
        assert [next(events).id for _ in range(3)] == ["10", "11", "12"]
