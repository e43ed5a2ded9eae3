"""WebSocket handlers: crossws hooks, peers, publish semantics and encoding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.types import Message

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.realtime import (
    Bus,
    Hub,
    Limits,
    Peer,
    WebSocketHandler,
    define_websocket_handler,
)
from {{ cookiecutter.package_name }}.realtime.backends import MemoryBackend
from {{ cookiecutter.package_name }}.realtime.hub import current_hub
from {{ cookiecutter.package_name }}.realtime.outlet import CLOSE_TIMEOUT

from . import conftest
from .conftest import RECEIVE_TIMEOUT, make_settings, route_module

WS_TREE = Path(__file__).parent / "route_trees" / "ws"
pytestmark = pytest.mark.timeout(3 * RECEIVE_TIMEOUT)


@pytest.fixture
def ws_client() -> Iterator[TestClient]:
    settings = make_settings(ws_rate_limit=10_000)  # the 500-message test sends a burst
    with TestClient(create_app(settings, routes=WS_TREE)) as client:
        yield client


def hub(client: TestClient) -> Hub:
    value: Hub = client.app.state.hub  # type: ignore[attr-defined]
    return value


def test_publish_reaches_everyone_but_the_sender(ws_client: TestClient) -> None:
    with (
        ws_client.websocket_connect("/room") as a,
        ws_client.websocket_connect("/room") as b,
        ws_client.websocket_connect("/room") as c,
    ):
        a.send_text("from a")
        assert b.receive_text() == "from a"
        assert c.receive_text() == "from a"
        b.send_text("from b")
        # a's next frame is b's: it never got its own.
        assert a.receive_text() == "from b"
        assert c.receive_text() == "from b"


def test_two_peers_and_500_messages_in_order(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/room") as a, ws_client.websocket_connect("/room") as b:
        for n in range(500):
            a.send_text(str(n))
        assert [b.receive_text() for _ in range(500)] == [str(n) for n in range(500)]


def test_binary_frames_stay_binary(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/room") as a, ws_client.websocket_connect("/room") as b:
        a.send_bytes(b"\x00\x01\xfe\xff")
        assert b.receive_bytes() == b"\x00\x01\xfe\xff"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("list", [1, "two", None]),
        ("model", {"x": 1, "y": 2}),
        ("nested", {"points": [{"x": 3, "y": 4}], "text": "Zoë ☃"}),
    ],
)
def test_values_become_one_json_text_frame(
    ws_client: TestClient, kind: str, expected: object
) -> None:
    with ws_client.websocket_connect("/kinds") as ws:
        ws.send_text(kind)
        assert ws.receive_json() == expected


def test_str_is_text_and_bytes_binary(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/kinds") as ws:
        ws.send_text("text")
        assert ws.receive() == {"type": "websocket.send", "text": "plain text"}
        ws.send_text("bytes")
        assert ws.receive() == {"type": "websocket.send", "bytes": b"\x00\xffraw"}


def test_upgrade_refuses_with_status_and_headers(ws_client: TestClient) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, ws_client.websocket_connect("/guarded"):
        pass
    assert refused.value.status_code == 401
    assert refused.value.headers["www-authenticate"] == "Token"
    assert refused.value.text == "bad token"


def test_upgrade_dict_becomes_context(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/guarded?token=secret&user=ada") as a:
        first = a.receive_json()
        with ws_client.websocket_connect("/guarded?token=secret") as b:
            second = b.receive_json()
    assert first["context"] == {"user": "ada"}
    assert second["context"] == {"user": "anon"}
    assert first["id"] != second["id"]
    assert " " not in first["name"] and first["name"]


def test_hooks_may_be_plain_and_their_errors_reach_the_error_hook(
    ws_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    faulty = route_module(WS_TREE / "faulty.py")
    with (
        ws_client.websocket_connect("/faulty") as a,
        ws_client.websocket_connect("/room") as b,
        ws_client.websocket_connect("/room") as c,
    ):
        a.send_text("boom")
        assert a.receive_text() == "error ValueError: boom"
        a.send_text("again")
        assert a.receive_text() == "ok again opened=True"
        b.send_text("the room is unharmed")
        assert c.receive_text() == "the room is unharmed"
    assert [code for _, code in faulty.CLOSED] == [1000]
    assert "message hook failed" in caplog.text


def test_an_open_hook_error_reaches_the_error_hook_and_the_peer_goes_on(
    ws_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with ws_client.websocket_connect("/faulty?fail=open") as ws:
        assert ws.receive_text() == "error ValueError: open failed"
        ws.send_text("still open")
        assert ws.receive_text() == "ok still open opened=False"
    assert "open hook failed" in caplog.text


def test_a_close_hook_error_reaches_the_error_hook_and_the_log(
    ws_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    faulty = route_module(WS_TREE / "faulty.py")
    with ws_client.websocket_connect("/faulty?fail=close"):
        pass
    assert faulty.ERRORS == ["ValueError: close failed"]
    assert "close hook failed" in caplog.text
    with ws_client.websocket_connect("/faulty") as ws:  # the server goes on
        ws.send_text("next")
        assert ws.receive_text() == "ok next opened=True"


def test_server_code_publishes_to_the_room(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/room") as a:
        assert ws_client.post("/announce", params={"text": "hello"}).status_code == 200
        assert a.receive_json() == {"announcement": "hello"}


def test_publish_reaches_its_own_app_with_two_apps_in_one_process(ws_client: TestClient) -> None:
    """Server code publishes on the bus of the app serving it, whichever started or stopped last."""
    with ws_client.websocket_connect("/room") as a:
        with (
            TestClient(create_app(make_settings(), routes=WS_TREE)) as other,
            other.websocket_connect("/room") as b,
        ):
            assert ws_client.post("/announce", params={"text": "first"}).status_code == 200
            assert other.post("/announce", params={"text": "second"}).status_code == 200
            assert a.receive_json() == {"announcement": "first"}
            assert b.receive_json() == {"announcement": "second"}
        assert ws_client.post("/announce", params={"text": "third"}).status_code == 200
        assert a.receive_json() == {"announcement": "third"}


def test_a_task_started_in_the_lifespan_sees_its_apps_hub() -> None:
    app = create_app(make_settings(), routes=WS_TREE)
    seen: list[Hub] = []
    lifespan = app.router.lifespan_context

    async def background() -> None:
        await asyncio.sleep(0)  # runs after start-up, as a real background task would
        seen.append(current_hub())

    @asynccontextmanager
    async def with_task(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            task = asyncio.create_task(background())
            yield
            await task

    app.router.lifespan_context = with_task
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 200
    assert seen == [app.state.hub]


def test_current_hub_outside_an_app_says_where_it_works() -> None:
    with pytest.raises(RuntimeError, match="no app is serving this code"):
        current_hub()


def test_closing_unsubscribes_and_forgets_the_peer(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/room") as a, ws_client.websocket_connect("/room") as c:
        with ws_client.websocket_connect("/room"):
            assert hub(ws_client).bus.subscribers("room") == 3
        a.send_text("still here")  # the room goes on without b
        assert c.receive_text() == "still here"
        assert hub(ws_client).bus.subscribers("room") == 2
    assert hub(ws_client).bus.subscribers("room") == 0
    assert not hub(ws_client).open
    assert hub(ws_client).connections == 0


@pytest.mark.parametrize("query", ["", "?kind=list"])
def test_a_failing_upgrade_hook_refuses_with_500(
    ws_client: TestClient, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        ws_client.websocket_connect("/bad_upgrade" + query),
    ):
        pass
    assert refused.value.status_code == 500
    assert "upgrade hook failed" in caplog.text


def test_a_peer_admitted_as_the_server_stops_gets_1001(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/late") as ws:
        assert ws.receive() == {
            "type": "websocket.close",
            "code": 1001,
            "reason": "server shutting down",
        }


def test_a_receive_that_gets_nothing_fails_as_an_assertion(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conftest, "RECEIVE_TIMEOUT", 0.2)
    with (
        ws_client.websocket_connect("/room") as ws,
        pytest.raises(AssertionError, match=r"got nothing in 0\.2s"),
    ):
        ws.receive_text()


def test_hooks_are_given_by_keyword_only() -> None:
    def open(peer: Peer) -> None:
        pass

    assert define_websocket_handler(open=open) == WebSocketHandler(open=open)
    with pytest.raises(TypeError):
        WebSocketHandler(None, open)  # type: ignore[call-arg]


class StalledSocket:
    """Stands in for a WebSocket whose client stopped reading, under a server with no
    abort (the ASGI path): no frame ever goes, and the client never says a word."""

    def __init__(self) -> None:
        self.scope: dict[str, object] = {}
        self.path_params: dict[str, str] = {}
        self.sent: list[Message] = []

    async def send(self, frame: Message) -> None:
        await asyncio.Event().wait()

    async def receive(self) -> Message:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_close_that_cannot_be_sent_ends_the_session_with_its_code() -> None:
    async def scenario() -> tuple[Message, float]:
        hub = Hub(Bus(MemoryBackend()), Limits(ws_send_buffer_bytes=1000))
        peer = Peer(StalledSocket(), hub, {})  # type: ignore[arg-type]
        await peer.send("taken by the writer, which stalls")
        await peer.close(4000, "kicked")
        start = asyncio.get_running_loop().time()
        async with asyncio.timeout(CLOSE_TIMEOUT + 3):
            event = await peer.receive()
        await peer.finish()
        return event, asyncio.get_running_loop().time() - start

    event, elapsed = asyncio.run(scenario())
    assert event == {"type": "websocket.disconnect", "code": 4000, "reason": "kicked"}
    assert CLOSE_TIMEOUT <= elapsed < CLOSE_TIMEOUT + 1
