"""SSE: generators and push streams on sse-starlette, topics, keep-alive, Last-Event-ID."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx_sse import EventSource
from hypothesis import given
from hypothesis import strategies as st
from sse_starlette import EventSourceResponse, ServerSentEvent

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.realtime.sse import _Response, event_bytes

from .conftest import RECEIVE_TIMEOUT, make_settings, route_module, within

SSE_TREE = Path(__file__).parent / "route_trees" / "sse"
pytestmark = pytest.mark.timeout(15)


@pytest.fixture
def sse_client() -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(sse_ping_seconds=0.2), routes=SSE_TREE)) as client:
        yield client


def test_what_a_generator_may_yield(sse_client: TestClient) -> None:
    with sse_client.stream("GET", "/gen") as response:
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["content-type"].startswith("text/event-stream")
        body = within(RECEIVE_TIMEOUT, response.read).decode()
    events = body.replace("\r\n", "\n").split("\n\n")
    assert events[0] == "data: plain"
    assert events[1] == 'id: 7\nevent: obj\ndata: {"a":[1,2]}'
    assert events[2] == "event: x\ndata: sse"
    assert events[3] == "data: line1\ndata: line2\ndata: line3"
    assert events[4] == "id: id\nevent: badname\ndata: clean"
    assert events[5] == "data: retry\nretry: 1500"
    assert events[6] == ": a note"


def test_push_style_stream_closes_after_its_events(sse_client: TestClient) -> None:
    closed = route_module(SSE_TREE / "push.py").CLOSED
    closed.clear()
    with sse_client.stream("GET", "/push?count=3") as response:
        events = within(RECEIVE_TIMEOUT, list, EventSource(response).iter_sse())
    assert [(e.id, e.data) for e in events] == [("0", "push 0"), ("1", "push 1"), ("2", "push 2")]
    assert closed.wait(5)


def test_on_closed_runs_when_the_client_goes(sse_client: TestClient) -> None:
    closed = route_module(SSE_TREE / "push.py").CLOSED
    closed.clear()
    with sse_client.stream("GET", "/push?count=1&close=false") as response:
        events = EventSource(response).iter_sse()  # kept: dropping it closes the response
        assert within(RECEIVE_TIMEOUT, next, events).data == "push 0"
        assert not closed.is_set()
    assert closed.wait(5)


def test_stream_follows_a_topic(sse_client: TestClient) -> None:
    with sse_client.stream("GET", "/follow") as response:
        events = EventSource(response).iter_sse()
        assert within(RECEIVE_TIMEOUT, next, events).event == "ready"
        sse_client.post("/news", params={"text": "first"})
        sse_client.post("/news", params={"text": "second"})
        assert json.loads(within(RECEIVE_TIMEOUT, next, events).data) == {"text": "first"}
        assert json.loads(within(RECEIVE_TIMEOUT, next, events).data) == {"text": "second"}
    hub = sse_client.app.state.hub  # type: ignore[attr-defined]
    assert hub.bus.subscribers("news") == 0


def test_last_event_id_reaches_the_handler(sse_client: TestClient) -> None:
    with sse_client.stream("GET", "/last_id", headers={"Last-Event-ID": "41"}) as response:
        event = within(RECEIVE_TIMEOUT, next, EventSource(response).iter_sse())
    assert json.loads(event.data) == {"parameter": "41", "stream": "41"}


def test_keep_alive_comments(sse_client: TestClient) -> None:
    with sse_client.stream("GET", "/slow") as response:
        lines = response.iter_lines()
        assert within(RECEIVE_TIMEOUT, next, lines) == "data: first"
        comments = (line for line in lines if line.startswith(":"))
        assert within(RECEIVE_TIMEOUT, next, comments).startswith(": ping")


def test_validation_errors_are_422(sse_client: TestClient) -> None:
    assert sse_client.get("/push?count=many").status_code == 422


def test_a_stream_never_sent_leaves_no_subscription(sse_client: TestClient) -> None:
    assert sse_client.get("/abandoned").status_code == 409
    hub = sse_client.app.state.hub  # type: ignore[attr-defined]
    assert hub.bus.subscribers("news") == 0


text = st.text(st.sampled_from("ab \r\n:é"), max_size=8) | st.none()


@given(data=text, event=text, id=text, comment=text, retry=st.integers(0, 10**6) | st.none())
def test_events_are_encoded_byte_for_byte_as_sse_starlette_does(
    data: str | None, event: str | None, id: str | None, comment: str | None, retry: int | None
) -> None:
    fields = {"data": data, "event": event, "id": id, "comment": comment, "retry": retry}
    assert event_bytes(**fields) == ServerSentEvent(**fields).encode()  # type: ignore[arg-type]


def test_a_stream_over_its_buffer_is_ended_even_where_it_cannot_be_aborted() -> None:
    # TestClient's `receive` is not uvicorn's: the stream is cancelled instead of aborted.
    app = create_app(make_settings(ws_send_buffer_bytes=1000), routes=SSE_TREE)
    closed = route_module(SSE_TREE / "push.py").CLOSED
    with TestClient(app) as client:
        with client.stream("GET", "/push?count=100&close=false") as response:
            events = list(EventSource(response).iter_sse())
        assert closed.wait(5)
    assert len(events) < 100


def test_the_per_send_override_still_replaces_a_method_sse_starlette_calls() -> None:
    # `_Response` skips sse-starlette's cancel scope around each send by overriding this
    # method; renamed in a release of sse-starlette, the override would quietly do nothing.
    assert "_send_with_timeout" in vars(EventSourceResponse)
    assert "await self._send_with_timeout(" in inspect.getsource(EventSourceResponse)
    assert "_send_with_timeout" in vars(_Response)
