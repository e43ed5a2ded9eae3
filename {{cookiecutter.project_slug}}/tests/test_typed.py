"""Typed `message` hooks: frames validated into the annotated type, through a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from websockets.sync.client import ClientConnection, connect

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler

from .conftest import Server, ServerFactory

TYPED_TREE = Path(__file__).parent / "route_trees" / "typed"
pytestmark = pytest.mark.timeout(20)
TIMEOUT = 5


@pytest.fixture
def typed_server(server_factory: ServerFactory) -> Server:
    return server_factory(routes=TYPED_TREE)


def receive_json(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(TIMEOUT))


def test_a_valid_frame_reaches_the_hook_as_the_model(typed_server: Server) -> None:
    with connect(f"{typed_server.ws_url}/ws/point") as ws:
        ws.send('{"x": 1, "y": "2"}')  # lax mode: "2" is an int
        assert receive_json(ws) == {"got": {"x": 1, "y": 2}, "type": "Point"}
        ws.send(b'{"x": 3, "y": 4}')  # a binary frame's JSON too
        assert receive_json(ws) == {"got": {"x": 3, "y": 4}, "type": "Point"}


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ("not json", "json_invalid"),
        ('{"x": 1}', "missing"),
        ('{"x": "one", "y": 2}', "int_parsing"),
        ("[1, 2]", "model_type"),
    ],
)
def test_an_invalid_frame_gets_the_error_frame_and_the_peer_stays_open(
    typed_server: Server, frame: str, error_type: str
) -> None:
    with connect(f"{typed_server.ws_url}/ws/point") as ws:
        ws.send(frame)
        error = receive_json(ws)
        assert error["error"] == "invalid message"
        assert [detail["type"] for detail in error["detail"]] == [error_type]
        assert all("url" not in detail for detail in error["detail"])
        ws.send('{"x": 5, "y": 6}')
        assert receive_json(ws)["got"] == {"x": 5, "y": 6}


def test_the_error_frame_names_the_field_and_the_problem(typed_server: Server) -> None:
    with connect(f"{typed_server.ws_url}/ws/point") as ws:
        ws.send('{"x": 1}')
        assert receive_json(ws) == {
            "error": "invalid message",
            "detail": [
                {"type": "missing", "loc": ["y"], "msg": "Field required", "input": {"x": 1}}
            ],
        }


def test_extra_fields_are_as_the_model_decides(typed_server: Server) -> None:
    with (
        connect(f"{typed_server.ws_url}/ws/point") as lax,
        connect(f"{typed_server.ws_url}/ws/strict") as strict,
    ):
        lax.send('{"x": 1, "y": 2, "z": 3}')
        assert receive_json(lax)["got"] == {"x": 1, "y": 2}
        strict.send('{"x": 1, "y": 2, "z": 3}')
        assert [d["type"] for d in receive_json(strict)["detail"]] == ["extra_forbidden"]
        strict.send('{"x": 1, "y": 2}')
        assert receive_json(strict) == {"x": 1, "y": 2}


def test_any_type_a_type_adapter_takes(typed_server: Server) -> None:
    with connect(f"{typed_server.ws_url}/ws/numbers") as ws:
        ws.send("[1, 2, 3]")
        assert ws.recv(TIMEOUT) == "6"
        ws.send('["a"]')
        assert receive_json(ws)["detail"][0]["loc"] == [0]


def test_an_error_hook_gets_the_validation_error_instead_of_the_frame(
    typed_server: Server,
) -> None:
    with connect(f"{typed_server.ws_url}/ws/handled") as ws:
        ws.send('{"text": ""}')
        assert ws.recv(TIMEOUT) == "ValidationError: string_too_short"
        ws.send("{")
        assert ws.recv(TIMEOUT) == "ValidationError: json_invalid"
        ws.send('{"text": "hi"}')
        assert ws.recv(TIMEOUT) == "said hi"
    assert "Traceback" not in typed_server.output()  # a client's mistake is not logged as a failure


def test_a_message_annotated_hook_sees_frames_as_they_came(typed_server: Server) -> None:
    with connect(f"{typed_server.ws_url}/ws/raw") as ws:
        ws.send("not json at all")
        assert ws.recv(TIMEOUT) == "raw not json at all"


class Point(BaseModel):
    x: int


async def typed(peer: Peer, point: Point) -> None: ...
async def untyped(peer, message) -> None: ...  # type: ignore[no-untyped-def]
async def raw(peer: Peer, message: Message) -> None: ...
async def anything(peer: Peer, message: Any) -> None: ...


@pytest.mark.parametrize(
    ("hook", "receives"), [(typed, Point), (untyped, None), (raw, None), (anything, None)]
)
def test_the_annotation_is_read_when_the_handler_is_defined(hook: Any, receives: object) -> None:
    assert define_websocket_handler(message=hook).receives is receives


def test_an_annotation_that_does_not_resolve_fails_at_definition() -> None:
    namespace: dict[str, Any] = {}
    source = "async def message(peer, point: 'Missing') -> None: ..."
    exec(compile(source, "route.py", "exec", dont_inherit=True), namespace)
    with pytest.raises(TypeError, match="message: cannot resolve its annotations"):
        define_websocket_handler(message=namespace["message"])
