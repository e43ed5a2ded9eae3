"""1,000 connections come and go, each ending its own way, and leave nothing behind."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.realtime import Hub, Peer

from .conftest import make_settings

TREE = Path(__file__).parent / "route_trees" / "hardening"
CYCLES = 1000
pytestmark = pytest.mark.timeout(60)


def count(hub: Hub, server: uvicorn.Server) -> dict[str, object]:
    """Everything a connection could leave behind."""
    gc.collect()
    return {
        "hub.open": len(hub.open),
        "hub.connections": hub.connections,
        "bus topics": hub.bus.topics,
        "subscribers": hub.bus.subscribers("room"),
        "peers alive": sum(isinstance(o, Peer) for o in gc.get_objects()),
        "asyncio tasks": len(asyncio.all_tasks()),
        "server connections": len(server.server_state.connections),
        "server tasks": len(server.server_state.tasks),
    }


async def settle(condition: Callable[[], bool], seconds: float = 5) -> None:
    """Wait for the server's side of the last closes; it is in this event loop."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the server did not settle"
        await asyncio.sleep(0.01)


async def cycle(url: str, n: int) -> None:
    """Connect, talk, and leave: closing, vanishing, sent away, or by breaking a limit."""
    ws = await connect(url, proxy=None, open_timeout=5, close_timeout=5)
    assert str(await ws.recv()).startswith("ready")
    ending = n % 4
    if ending == 0:
        await ws.send(f"hello {n}")
        await ws.close()
    elif ending == 1:
        ws.transport.abort()  # no close frame: the TCP connection just ends
        await ws.wait_closed()
    else:
        await ws.send("bye" if ending == 2 else "x" * 2000)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == (4000 if ending == 2 else 1009)


async def drain(ws: ClientConnection) -> None:
    async for _ in ws:
        pass


def test_1000_connect_disconnect_cycles_leave_nothing_behind() -> None:
    # A history the warm-up fills: from then on each message kept frees the oldest one.
    app = create_app(make_settings(ws_max_message_bytes=1024, history_size=10), routes=TREE)
    hub: Hub = app.state.hub
    config = uvicorn.Config(app, ws_max_size=1024, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def check() -> tuple[dict[str, object], dict[str, object], int]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ws/room"
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            await settle(lambda: server.started)
            # A listener stays in the room, so that every cycle's message fans out.
            listener = await connect(url, proxy=None, max_queue=None)
            draining = asyncio.create_task(drain(listener))
            for n in range(100):  # warm up: caches, pools and lazy imports fill here
                await cycle(url, n)
            await settle(lambda: hub.connections == 1 and len(server.server_state.tasks) == 1)
            before = count(hub, server)

            tracemalloc.start()
            start = tracemalloc.get_traced_memory()[0]
            for n in range(CYCLES):
                await cycle(url, n)
            await settle(lambda: hub.connections == 1 and len(server.server_state.tasks) == 1)
            after = count(hub, server)
            growth = tracemalloc.get_traced_memory()[0] - start
            tracemalloc.stop()

            await listener.close()
            await draining
            server.should_exit = True
            await serving
        return before, after, growth

    before, after, growth = asyncio.run(check())
    assert after == before
    assert before["hub.open"] == before["peers alive"] == before["subscribers"] == 1
    # Under 64 bytes a cycle (the noise is about 25): a peer left behind costs kilobytes.
    assert growth < CYCLES * 64, f"{growth} bytes more after {CYCLES} cycles"
