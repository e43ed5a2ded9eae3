"""The limits of the README's settings, each with the signal the client gets, on real servers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.realtime.outlet import CLOSE_TIMEOUT

from . import wire
from .conftest import Server, ServerFactory, make_settings

TREE = Path(__file__).parent / "route_trees" / "hardening"
ROOM = "/ws/room"
pytestmark = pytest.mark.timeout(30)


@asynccontextmanager
async def peer(
    server: Server, path: str = ROOM, **options: object
) -> AsyncIterator[ClientConnection]:
    """A client in the room, once the room has let it in (its `open` hook has run).

    Its receive queue is unbounded: a client that does not read what the room sends
    would otherwise stop reading the socket, and wait for the server's close in vain.
    """
    options = {"proxy": None, "open_timeout": 5, "close_timeout": 5, "max_queue": None, **options}
    async with connect(server.ws_url + path, **options) as ws:  # type: ignore[arg-type]
        if path == ROOM:
            assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("ready")
        yield ws


async def refusal(server: Server, **options: object) -> tuple[int, bytes]:
    """The status and body of a refused handshake."""
    with pytest.raises(InvalidStatus) as refused:
        async with peer(server, **options):
            pass
    return refused.value.response.status_code, refused.value.response.body or b""


async def admitted_within(server: Server, seconds: float) -> float:
    """How long until the server admits a new peer again (it answers 503 until then)."""
    start = time.monotonic()
    while True:
        try:
            async with peer(server):
                return time.monotonic() - start
        except InvalidStatus as exc:
            assert exc.response.status_code == 503
            if time.monotonic() - start > seconds:
                raise AssertionError(f"no capacity back after {seconds}s") from exc
            # The client cannot see a slot come free: ask again shortly.
            await asyncio.sleep(0.05)


async def receive_until(ws: ClientConnection, last: str) -> list[str | bytes]:
    """Every frame up to and including `last`."""
    frames: list[str | bytes] = []
    while not frames or frames[-1] != last:
        frames.append(await asyncio.wait_for(ws.recv(), 5))
    return frames


# Origin: cross-site WebSocket hijacking


def test_a_foreign_origin_is_refused_before_any_hook_runs() -> None:
    app = create_app(make_settings(), routes=TREE)
    app.state.events = []
    with TestClient(app) as client:
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect(ROOM, headers={"origin": "https://evil.example"}),
        ):
            pass
        assert refused.value.status_code == 403
        assert refused.value.text == "origin not allowed"
        assert app.state.events == []

        with client.websocket_connect(ROOM, headers={"origin": "http://testserver"}) as ws:
            assert ws.receive_text().startswith("ready")
        assert [event[0] for event in app.state.events][:2] == ["upgrade", "open"]


def test_origins_on_a_real_server(server_factory: ServerFactory) -> None:
    allowed = "https://app.example, https://admin.example/"
    server = server_factory(routes=TREE, env={"ALLOWED_ORIGINS": allowed})
    own = f"http://127.0.0.1:{server.port}"

    async def check() -> None:
        # No Origin (not a browser), the server's own, and the listed ones.
        for origin in (None, own, "https://app.example", "https://admin.example"):
            async with peer(server, origin=origin):
                pass
        for origin in (
            "https://evil.example",
            "https://app.example.evil.example",
            f"http://localhost:{server.port}",  # another name is another origin
            "null",  # sandboxed frames and file:// pages
        ):
            assert await refusal(server, origin=origin) == (403, b"origin not allowed"), origin

    asyncio.run(check())


def test_allowed_origins_star_lets_every_site_in() -> None:
    app = create_app(make_settings(allowed_origins="*"), routes=TREE)
    with (
        TestClient(app) as client,
        client.websocket_connect(ROOM, headers={"origin": "https://evil.example"}) as ws,
    ):
        assert ws.receive_text().startswith("ready")


# WS_MAX_MESSAGE_BYTES: 1009 for that peer only


def test_a_frame_over_the_size_limit_closes_only_its_peer(server_factory: ServerFactory) -> None:
    server = server_factory(routes=TREE, env={"WS_MAX_MESSAGE_BYTES": "1024"})

    async def check() -> None:
        async with peer(server) as big, peer(server) as a, peer(server) as b:
            await big.send("x" * 1024)  # at the limit: delivered
            assert await asyncio.wait_for(a.recv(), 5) == "x" * 1024
            await big.send(b"x" * 1025)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(big.recv(), 5)
            assert big.close_code == 1009
            await a.send("still here")
            assert await asyncio.wait_for(b.recv(), 5) == "x" * 1024
            assert await asyncio.wait_for(b.recv(), 5) == "still here"

    asyncio.run(check())
    # The server refuses from the frame's header, before it buffers the payload.
    with wire.handshake(server.port, ROOM) as sock:
        wire.read_frame(sock)
        sock.sendall(wire.frame(wire.BINARY, b"x" * 1025)[:8])  # header and mask only
        sock.settimeout(2)
        assert wire.read_close(sock) == 1009


@pytest.mark.parametrize(
    ("data", "closed"),
    [
        ("é" * 512, False),  # 1024 bytes in UTF-8
        ("é" * 513, True),
        (b"\x00" * 1024, False),
        (b"\x00" * 1025, True),
    ],
)
def test_the_app_measures_frames_itself(data: str | bytes, closed: bool) -> None:
    """Under a server that does not enforce the limit (here TestClient), the app does."""
    settings = make_settings(ws_max_message_bytes=1024)
    kind = "text" if isinstance(data, str) else "bytes"
    with (
        TestClient(create_app(settings, routes=TREE)) as client,
        client.websocket_connect(ROOM) as a,
        client.websocket_connect(ROOM) as b,
    ):
        a.receive_text(), b.receive_text()
        a.send({"type": "websocket.receive", kind: data})
        if closed:
            assert a.receive() == {
                "type": "websocket.close",
                "code": 1009,
                "reason": "message too big",
            }
        else:
            assert b.receive()[kind] == data


# WS_RATE_LIMIT: 1008, and the flood stops at the budget


def test_a_flooding_peer_is_closed_and_the_room_gets_only_its_budget(
    server_factory: ServerFactory,
) -> None:
    rate = 20  # a second's worth may come in one burst
    server = server_factory(routes=TREE, env={"WS_RATE_LIMIT": str(rate)})

    async def check() -> None:
        async with peer(server) as flooder, peer(server) as listener, peer(server) as other:
            start = time.monotonic()
            with pytest.raises(ConnectionClosed):
                for n in range(1000):
                    await flooder.send(f"flood {n}")
                await asyncio.wait_for(flooder.recv(), 5)
            elapsed = time.monotonic() - start
            assert (flooder.close_code, flooder.close_reason) == (1008, "rate limit exceeded")

            await other.send("done")  # published after the flood was cut off
            flood = (await receive_until(listener, "done"))[:-1]
            assert flood == [f"flood {n}" for n in range(len(flood))]
            assert rate <= len(flood) <= rate + rate * elapsed + 1

            async with peer(server) as calm:  # a burst within the budget is fine
                for n in range(rate):
                    await calm.send(f"burst {n}")
                assert len(await receive_until(listener, f"burst {rate - 1}")) == rate

    asyncio.run(check())


# MAX_CONNECTIONS: 503 past the cap, capacity returns as peers leave


def test_past_max_connections_the_handshake_gets_503_until_a_peer_leaves(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(routes=TREE, env={"MAX_CONNECTIONS": "3"})

    async def check() -> None:
        async with peer(server), peer(server):
            async with peer(server):
                assert await refusal(server) == (503, b"too many connections")
                assert await refusal(server) == (503, b"too many connections")
            await admitted_within(server, 5)
            async with peer(server):
                assert await refusal(server) == (503, b"too many connections")

    asyncio.run(check())


# A peer that stops reading: closed, aborted, and the room goes on


def stalled_peer(server: Server) -> socket.socket:
    """A peer that completes the handshake, then never reads nor answers a ping."""
    sock = wire.handshake(server.port, ROOM, receive_buffer=4096)
    wire.read_frame(sock)  # "ready": from here on the room reaches it
    return sock


def test_a_peer_that_stops_reading_is_dropped_and_the_room_goes_on(
    server_factory: ServerFactory,
) -> None:
    env = {"WS_SEND_BUFFER_BYTES": "1000000", "WS_RATE_LIMIT": "10000", "MAX_CONNECTIONS": "3"}
    server = server_factory(routes=TREE, env=env)
    block = "x" * 60_000

    async def check() -> None:
        async with peer(server) as sender, peer(server, max_size=None) as listener:
            with stalled_peer(server):
                # Far more than the stalled peer's socket buffers and queue hold.
                for n in range(200):
                    await sender.send(f"{n} {block}")
                    assert await asyncio.wait_for(listener.recv(), 5) == f"{n} {block}"
                # Its buffer overflowed: it was closed with 1013, then aborted within
                # CLOSE_TIMEOUT, as the close frame could not get through; its slot is free.
                await admitted_within(server, CLOSE_TIMEOUT + 1)

    asyncio.run(check())


# Keep-alive: WS_PING_SECONDS


def test_keepalive_drops_a_peer_that_does_not_answer_pings(server_factory: ServerFactory) -> None:
    server = server_factory(routes=TREE, env={"WS_PING_SECONDS": "0.5", "MAX_CONNECTIONS": "1"})
    with stalled_peer(server) as sock:
        opcode, _ = wire.read_frame(sock)
        assert opcode == wire.PING
        assert wire.read_close(sock) == 1011  # after WS_PING_SECONDS without a pong
    asyncio.run(admitted_within(server, 5))


def test_keepalive_frees_a_dead_peer_whose_buffers_are_full(server_factory: ServerFactory) -> None:
    """uvicorn closes a dead peer's transport, which waits for its write buffer to drain:
    forever, when the peer stopped reading. The app must not hold on to it."""
    env = {
        "WS_PING_SECONDS": "0.5",
        "MAX_CONNECTIONS": "3",
        "WS_SEND_BUFFER_BYTES": str(1 << 30),  # so that only the keep-alive can drop it
        "WS_RATE_LIMIT": "10000",
    }
    server = server_factory(routes=TREE, env=env)
    block = "x" * 60_000

    async def check() -> None:
        async with peer(server) as sender, peer(server, max_size=None) as listener:
            with stalled_peer(server):
                for n in range(100):
                    await sender.send(f"{n} {block}")
                    await asyncio.wait_for(listener.recv(), 5)
                # The room is quiet now and the stalled peer's buffers stay full.
                await admitted_within(server, 8)

    asyncio.run(check())
