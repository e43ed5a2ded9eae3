"""SSE on a real server: bursts reach every stream, a stalled client is dropped, limits hold."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from .conftest import Server, ServerFactory

TREE = Path(__file__).parent / "route_trees" / "sse"
TIMEOUT = 10.0
ESTABLISHED = 1  # tcpi_state in Linux's struct tcp_info
pytestmark = pytest.mark.timeout(60)


def state(server: Server) -> dict[str, int]:
    found: dict[str, int] = httpx.get(f"{server.url}/state", timeout=TIMEOUT).json()
    return found


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` held; fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout} s"
        time.sleep(0.02)  # polling the server's state: there is no event to wait on
    return time.monotonic() - start


def stalled_client(server: Server, path: str) -> socket.socket:
    """A GET on `path` with a 4 KiB receive buffer, which then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert sock.recv(15) == b"HTTP/1.1 200 OK"
    return sock


def tcp_state(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def unsent_by_server(sock: socket.socket) -> int:
    """Bytes the server's end of `sock` holds for it in the kernel (Linux's /proc/net/tcp)."""
    here, there = (
        f"0100007F:{port:04X}" for port in (sock.getsockname()[1], sock.getpeername()[1])
    )
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == (there, here):
            return int(fields[4].split(":")[0], 16)
    return 0


async def follow(http: httpx.AsyncClient, ready: asyncio.Event, count: int) -> list[int]:
    """Follow `news` until `count` messages came, once subscribed (the `ready` event)."""
    received: list[int] = []
    async with aconnect_sse(http, "GET", "/follow") as source:
        events = source.aiter_sse()
        assert (await anext(events)).event == "ready"
        ready.set()
        async for event in events:
            received.append(json.loads(event.data)["n"])
            if len(received) == count:
                break
    return received


def test_a_burst_from_server_code_reaches_every_following_stream_in_order(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(routes=TREE)
    streams, count = 8, 10_000

    async def run() -> list[list[int]]:
        limits = httpx.Limits(max_connections=streams + 1)
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT, limits=limits) as http:
            ready = [asyncio.Event() for _ in range(streams)]
            followers = [asyncio.create_task(follow(http, r, count)) for r in ready]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), TIMEOUT)
            # 10,000 publishes with nothing awaited between: all of it piles up at once.
            response = await http.post("/burst", params={"count": count, "size": 80})
            assert response.status_code == 200
            return await asyncio.wait_for(asyncio.gather(*followers), 30)

    received = asyncio.run(run())
    assert received == [list(range(count))] * streams
    assert "too slow" not in server.output()


def test_a_slow_sse_client_is_closed_and_its_subscription_freed(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(routes=TREE, env={"WS_SEND_BUFFER_BYTES": "262144"})
    sock = stalled_client(server, "/follow")
    try:
        wait_until(lambda: state(server)["news"] == 1, TIMEOUT)
        # The client's window is full, and the kernel holds what it could not send.
        httpx.post(f"{server.url}/burst", params={"count": 20, "size": 1000}, timeout=TIMEOUT)
        wait_until(lambda: unsent_by_server(sock) > 0, TIMEOUT)
        # 2 MB at once: more than the stream may hold.
        httpx.post(f"{server.url}/burst", params={"count": 2000, "size": 1000}, timeout=TIMEOUT)
        freed = wait_until(lambda: state(server) == {"news": 0, "connections": 0, "big": 0}, 5)
        assert freed < 1.0  # dropped at the overflow, not at some timeout
        # Reset: a FIN would wait behind the unsent data, for good.
        assert tcp_state(sock) != ESTABLISHED
    finally:
        sock.close()
    assert "SSE client too slow" in server.output()


@pytest.mark.parametrize("path", ["/big", "/follow"], ids=["generator", "push"])
def test_a_client_that_leaves_ends_its_stream_without_an_error(
    server_factory: ServerFactory, path: str
) -> None:
    server = server_factory(routes=TREE)
    with httpx.stream("GET", f"{server.url}{path}", timeout=TIMEOUT) as response:
        next(response.iter_bytes())
    wait_until(lambda: state(server)["connections"] == 0, TIMEOUT)
    assert "Traceback" not in server.output()


def test_sse_streams_count_against_max_connections(server_factory: ServerFactory) -> None:
    server = server_factory(routes=TREE, env={"MAX_CONNECTIONS": "2"})

    async def run() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            ready = [asyncio.Event(), asyncio.Event()]
            followers = [asyncio.create_task(follow(http, r, 1)) for r in ready]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), TIMEOUT)
            refused = await http.get("/follow")
            assert (refused.status_code, refused.text) == (503, "too many connections")
            await http.post("/burst", params={"count": 1})  # both followers end after one
            await asyncio.wait_for(asyncio.gather(*followers), TIMEOUT)

    asyncio.run(run())
    wait_until(lambda: state(server)["connections"] == 0, TIMEOUT)
    with httpx.stream("GET", f"{server.url}/follow", timeout=TIMEOUT) as again:
        assert again.status_code == 200  # capacity came back


@pytest.mark.parametrize("path", ["/big", "/follow"], ids=["generator", "push"])
def test_shutdown_with_a_stalled_stream_ends_within_the_grace_period(
    server_factory: ServerFactory, path: str
) -> None:
    # Under its send buffer bound, so that only the shutdown can end the push stream.
    server = server_factory(routes=TREE, env={"WS_SEND_BUFFER_BYTES": str(64 << 20)})
    sock = stalled_client(server, path)
    try:
        if path == "/follow":
            wait_until(lambda: state(server)["news"] == 1, TIMEOUT)
            # 12 MB in 200 messages: stalls the old frame-counted queue too, unfilled.
            httpx.post(f"{server.url}/burst", params={"count": 200, "size": 60_000})
        else:
            # Blocked in `send` for good once what it has sent stops growing.
            sent = [-1]

            def settled() -> bool:
                before, sent[0] = sent[0], state(server)["big"]
                return sent[0] > 0 and sent[0] == before

            wait_until(settled, TIMEOUT)
        start = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(TIMEOUT)
        elapsed = time.monotonic() - start
    finally:
        sock.close()
    assert "timeout graceful shutdown exceeded" not in server.output()
    assert "ERROR" not in server.output()  # no response cut off for uvicorn to complain about
    assert elapsed < 3.0  # uvicorn's grace period in `serve`
