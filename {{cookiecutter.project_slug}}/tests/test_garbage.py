"""Garbage from clients never crashes anything: it closes the sender or reaches its error hook."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app

from . import wire
from .conftest import ServerFactory, make_settings

TREE = Path(__file__).parent / "route_trees" / "hardening"
pytestmark = pytest.mark.timeout(30)

# What a client may send on the wire that no library would, and the close it gets.
PROTOCOL_GARBAGE = [
    ("invalid UTF-8 in a text frame", wire.frame(wire.TEXT, b"caf\xc3 \xff"), 1007),
    ("invalid UTF-8 in a close reason", wire.frame(wire.CLOSE, b"\x03\xe8\xff"), 1007),
    ("an unmasked frame", wire.frame(wire.TEXT, b"hi", mask=False), 1002),
    ("a reserved opcode", wire.frame(0x3, b"x"), 1002),
    ("reserved bits", bytes([0xF1]) + wire.frame(wire.TEXT, b"x")[1:], 1002),
    ("a fragmented ping", wire.frame(wire.PING, b"x", fin=False), 1002),
    ("a continuation of nothing", wire.frame(0x0, b"x"), 1002),
    ("a ping over 125 bytes", wire.frame(wire.PING, b"x" * 200), 1002),
    ("a close code no one may send", wire.frame(wire.CLOSE, (999).to_bytes(2, "big")), 1002),
    ("a length of 2**63 - 1", bytes([0x82, 0xFF]) + (2**63 - 1).to_bytes(8, "big"), 1009),
    ("random bytes", random.Random(7).randbytes(64), 1002),
]


def test_protocol_garbage_closes_the_sender_and_nothing_else(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(routes=TREE)
    with wire.handshake(server.port, "/ws/room") as a, wire.handshake(server.port, "/ws/room") as b:
        wire.read_frame(a), wire.read_frame(b)  # "ready"
        for name, garbage, code in PROTOCOL_GARBAGE:
            with wire.handshake(server.port, "/ws/room") as sock:
                wire.read_frame(sock)
                sock.sendall(garbage)
                assert wire.read_close(sock) == code, name
            a.sendall(wire.frame(wire.TEXT, name.encode()))
            assert wire.read_frame(b) == (wire.TEXT, name.encode())

        # Fragments, and empty frames of both kinds, are messages like any other.
        fragments = wire.frame(wire.TEXT, b"frag", fin=False) + wire.frame(0x0, b"ments")
        for frame, expected in [
            (fragments, (wire.TEXT, b"fragments")),
            (wire.frame(wire.TEXT), (wire.TEXT, b"")),
            (wire.frame(wire.BINARY), (wire.BINARY, b"")),
        ]:
            a.sendall(frame)
            assert wire.read_frame(b) == expected

    with socket.create_connection(("127.0.0.1", server.port), timeout=wire.TIMEOUT) as sock:
        sock.sendall(random.Random(8).randbytes(100) + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")

    assert server.process.poll() is None
    assert "Exception in ASGI application" not in server.output()


@pytest.fixture
def tree_client() -> TestClient:
    app = create_app(make_settings(), routes=TREE)
    app.state.events = []
    return TestClient(app)


def test_invalid_json_reaches_the_error_hook_and_the_peer_lives_on(tree_client: TestClient) -> None:
    with tree_client, tree_client.websocket_connect("/ws/json") as ws:
        for garbage in ("", "{", "not json", '{"a": 1,}', "[" * 60_000):
            ws.send_text(garbage)
            assert ws.receive_json() in ({"error": "JSONDecodeError"}, {"error": "RecursionError"})
        ws.send_bytes(b"\xff\xfe\xfd")
        assert "error" in ws.receive_json()
        ws.send_text('{"still": ["here"]}')
        assert ws.receive_json() == {"got": {"still": ["here"]}}


def test_binary_where_text_is_expected_reaches_the_error_hook(tree_client: TestClient) -> None:
    with (
        tree_client,
        tree_client.websocket_connect("/ws/room") as a,
        tree_client.websocket_connect("/ws/room") as b,
    ):
        a.receive_text(), b.receive_text()
        a.send_bytes(b"\xff\xfe")  # the room's hook reads message.text()
        assert a.receive_json() == {"error": "UnicodeDecodeError"}
        a.send_bytes("café".encode())  # UTF-8 is fine, and stays binary
        assert b.receive_bytes() == "café".encode()
        a.send_text("")
        assert b.receive_text() == ""
        a.send_bytes(b"")
        assert b.receive_bytes() == b""
    errors = [event for event in tree_client.app.state.events if event[0] == "error"]  # type: ignore[attr-defined]
    assert [event[2] for event in errors] == ["UnicodeDecodeError"]
