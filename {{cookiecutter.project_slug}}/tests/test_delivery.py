"""Delivery on real servers, on both ways out: uvicorn's transport (`direct`, what `serve`
runs) and the plain ASGI path (`asgi`, uvicorn's stock sansio protocol). Bursts reach
every healthy peer in order; a stalled peer is closed with 1013 and dropped within
CLOSE_TIMEOUT; backpressure lets a handler pace itself; terminate drops at once."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from {{ cookiecutter.package_name }}.realtime import Bus, Hub, Limits, Peer
from {{ cookiecutter.package_name }}.realtime.backends import MemoryBackend
from {{ cookiecutter.package_name }}.realtime.frames import to_frame
from {{ cookiecutter.package_name }}.realtime.outlet import CLOSE_TIMEOUT, HIGH_WATER
from {{ cookiecutter.package_name }}.realtime.peer import SEND_BUFFER_FULL

from . import wire
from .conftest import Server, ServerFactory

TREE = Path(__file__).parent / "route_trees" / "delivery"
ROOM = "/ws/room"
# No --ws: the app's own protocol; or uvicorn's, which offers no direct way out.
PATHS = {"direct": None, "asgi": "websockets-sansio"}
PEERS = 30
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def start(server_factory: ServerFactory, path: str, **env: str) -> Server:
    env = {"WS_RATE_LIMIT": "1000000", **env}  # publishers here flood on purpose
    return server_factory(routes=TREE, ws=PATHS[path], env=env)


@asynccontextmanager
async def peer(server: Server, path: str, **options: Any) -> AsyncIterator[ClientConnection]:
    """A client in the room, once it is subscribed, checked to be on `path`."""
    options = {"proxy": None, "open_timeout": 10, "max_queue": None, "max_size": None, **options}
    async with connect(server.ws_url + ROOM, **options) as ws:
        assert await asyncio.wait_for(ws.recv(), 10) == f"ready {path}"
        yield ws


async def peers(stack: AsyncExitStack, server: Server, path: str, n: int) -> list[ClientConnection]:
    return [await stack.enter_async_context(peer(server, path)) for _ in range(n)]


def report(server: Server, closes: int = 0) -> dict[str, Any]:
    """What the room's hooks saw, once `closes` peers have closed."""
    with urllib.request.urlopen(f"{server.url}/report?closes={closes}", timeout=15) as response:
        result: dict[str, Any] = json.load(response)
        return result


async def receive(ws: ClientConnection, count: int) -> list[str | bytes]:
    return [await asyncio.wait_for(ws.recv(), 20) for _ in range(count)]


def burst(count: int, size: int) -> list[str]:
    pad = "x" * (size - 7)
    return [f"{n:06d} {pad}" for n in range(count)]


def test_a_burst_from_a_peer_reaches_every_healthy_peer_in_order(
    server_factory: ServerFactory, path: str
) -> None:
    server = start(server_factory, path)
    messages = burst(2_000, 100)

    async def check() -> None:
        async with AsyncExitStack() as stack:
            publisher, *listeners = await peers(stack, server, path, 1 + PEERS)
            # Everything at once: the server reads far more than one message per step.
            await asyncio.gather(*(publisher.send(message) for message in messages))
            received = await asyncio.gather(*(receive(ws, len(messages)) for ws in listeners))
            assert all(got == messages for got in received)
            assert report(server)["closes"] == []

    asyncio.run(check())


def test_a_burst_from_server_code_reaches_every_healthy_peer_in_order(
    server_factory: ServerFactory, path: str
) -> None:
    server = start(server_factory, path)
    count = 2_000

    async def check() -> None:
        async with AsyncExitStack() as stack:
            listeners = await peers(stack, server, path, PEERS)
            request = urllib.request.Request(f"{server.url}/burst?count={count}&size=100", b"")
            done = asyncio.to_thread(urllib.request.urlopen, request, timeout=30)
            received = await asyncio.gather(*(receive(ws, count) for ws in listeners), done)
            assert all(got == burst(count, 100) for got in received[:-1])
            assert report(server)["closes"] == []

    asyncio.run(check())


def test_a_stalled_peer_is_closed_with_1013_and_dropped_within_the_close_timeout(
    server_factory: ServerFactory, path: str
) -> None:
    server = start(server_factory, path, WS_SEND_BUFFER_BYTES=str(1 << 20))
    messages = burst(600, 8_000)  # 4.8 MB: past the stalled peer's socket buffers and its bound

    async def check() -> None:
        async with AsyncExitStack() as stack:
            publisher, *listeners = await peers(stack, server, path, 4)
            stalled = stack.enter_context(wire.handshake(server.port, ROOM, receive_buffer=4096))
            assert wire.read_frame(stalled) == (wire.TEXT, f"ready {path}".encode())
            started = time.monotonic()
            await asyncio.gather(*(publisher.send(message) for message in messages))
            received = await asyncio.gather(*(receive(ws, len(messages)) for ws in listeners))
            assert all(got == messages for got in received)

            closes = (await asyncio.to_thread(report, server, 1))["closes"]
            assert [(c["code"], c["reason"]) for c in closes] == [(1013, SEND_BUFFER_FULL)]
            # Closed, then dropped as its close frame could not go: within the timeout.
            assert closes[0]["at"] - started < CLOSE_TIMEOUT + 1.5
            assert report(server)["open"] == 1 + len(listeners)
            if path == "direct":  # aborted: the socket ends; ASGI has no abort
                assert await asyncio.to_thread(read_to_the_end, stalled)

    asyncio.run(check())


def read_to_the_end(sock: socket.socket) -> bool:
    """True when the server ends the connection within a few seconds."""
    sock.settimeout(5)
    try:
        while sock.recv(1 << 16):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def test_wait_for_drain_paces_a_50_mb_stream_under_a_1_mb_buffer(
    server_factory: ServerFactory, path: str
) -> None:
    bound = 1 << 20
    server = start(server_factory, path, WS_SEND_BUFFER_BYTES=str(bound))
    size = 50 * (1 << 20)

    async def check() -> None:
        async with peer(server, path) as ws:
            await ws.send(f"stream {size}")
            got = 0
            while isinstance(frame := await asyncio.wait_for(ws.recv(), 20), bytes):
                got += len(frame)
            assert got == size
            most = int(str(frame).split()[3])  # "streamed, at most N bytes waiting"
            assert 0 < most <= bound, frame
            drains = report(server)["drains"]
            assert list(drains.values()) and all(n >= 1 for n in drains.values())

    asyncio.run(check())


def test_the_same_stream_unpaced_is_closed_with_1013_and_its_reason(
    server_factory: ServerFactory, path: str
) -> None:
    server = start(server_factory, path, WS_SEND_BUFFER_BYTES=str(1 << 20))

    async def check() -> None:
        async with peer(server, path) as ws:
            await ws.send(f"flood {64 * (1 << 20)}")
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 20)
            assert (ws.close_code, ws.close_reason) == (1013, SEND_BUFFER_FULL)

    asyncio.run(check())


def test_terminate_drops_the_connection_without_a_close_frame(
    server_factory: ServerFactory, path: str
) -> None:
    server = start(server_factory, path)

    async def check() -> None:
        async with peer(server, path) as ws:
            await ws.send("terminate")
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is None  # no close frame came
        closes = (await asyncio.to_thread(report, server, 1))["closes"]
        assert [c["code"] for c in closes] == [1006]

    asyncio.run(check())


class BurstSocket:
    """Stands in for a connection under a server that hands over a burst without ever
    waiting (as TestClient can): every frame is there already; sends never wait."""

    def __init__(self, frames: list[str]) -> None:
        self.scope: dict[str, object] = {}
        self.path_params: dict[str, str] = {}
        self.frames = iter(frames)
        self.sent: list[str] = []
        self.closed = asyncio.Event()

    async def receive(self) -> dict[str, object]:
        return {"type": "websocket.receive", "text": next(self.frames)}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.close":
            self.closed.set()
        else:
            self.sent.append(message["text"])


def test_on_the_asgi_path_a_burst_never_piles_up_before_the_writers_run() -> None:
    messages = burst(2_000, 100)

    async def scenario() -> tuple[int, list[str]]:
        hub = Hub(Bus(MemoryBackend()), Limits())
        publisher = Peer(BurstSocket(messages), hub, {})  # type: ignore[arg-type]
        receiver = Peer(socket := BurstSocket([]), hub, {})  # type: ignore[arg-type]
        most = 0
        for _ in messages:
            event = await publisher.receive()
            receiver.deliver(to_frame(event["text"]))
            most = max(most, receiver.buffered_amount)
        await receiver.close()  # after what was queued
        await asyncio.wait_for(socket.closed.wait(), 5)
        await publisher.finish()
        await receiver.finish()
        return most, socket.sent

    most, sent = asyncio.run(scenario())
    assert sent == messages
    # The writer ran every HIGH_WATER bytes read (plus framing): not once at the end.
    assert most <= 2 * HIGH_WATER < len(messages) * 100
