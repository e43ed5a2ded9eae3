"""Graceful shutdown: on SIGTERM or SIGINT every peer gets 1001, every stream ends, quickly."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from {{ cookiecutter.package_name }}.realtime import Bus, Hub, Limits, backend_from_url

from .conftest import PACKAGE, Server, ServerFactory

TREE = Path(__file__).parent / "route_trees" / "hardening"
PEERS = STREAMS = 100
pytestmark = pytest.mark.timeout(30)


async def open_peer(server: Server) -> ClientConnection:
    ws = await connect(server.ws_url + "/ws/room", proxy=None, open_timeout=10, max_queue=None)
    assert str(await asyncio.wait_for(ws.recv(), 10)).startswith("ready")
    return ws


async def close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return ws.close_code


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_stream(server: Server, path: str) -> Stream:
    """An SSE request on a bare connection, read up to its first event."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await asyncio.wait_for(reader.readuntil(b"data: ready"), 10)
    except BaseException:
        writer.close()  # not left for the next test's garbage collection to report
        raise
    return reader, writer


async def seconds_to_end_on_sigterm(server: Server, path: str) -> float:
    """How long the stream at `path`, open and past its first event, lasts after SIGTERM."""
    stream = await open_stream(server, path)
    start = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    await stream_end(stream)
    return time.monotonic() - start


async def stream_end(stream: Stream) -> bytes:
    """What the stream sent after its first event, up to the end of the connection."""
    reader, writer = stream
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_shutdown_with_100_peers_and_100_streams(server_factory: ServerFactory, sig: int) -> None:
    server = server_factory(routes=TREE, env={"SSE_PING_SECONDS": "60"})

    async def check() -> float:
        peers = await asyncio.gather(*(open_peer(server) for _ in range(PEERS)))
        paths = ["/feed", "/wait"] * (STREAMS // 2)  # push-style and generator streams
        streams = await asyncio.gather(*(open_stream(server, path) for path in paths))

        start = time.monotonic()
        server.process.send_signal(sig)
        codes = await asyncio.gather(*(close_code(ws) for ws in peers))
        ends = await asyncio.gather(*(stream_end(reader) for reader in streams))
        streams_ended = time.monotonic() - start
        exit_code = await asyncio.to_thread(server.process.wait, 10)
        elapsed = time.monotonic() - start

        assert streams_ended < 2  # open streams end within 2 s of the signal

        assert codes == [1001] * PEERS, codes
        # Each response ended properly: chunked encoding's last chunk, not a cut.
        assert all(end.endswith(b"0\r\n\r\n") for end in ends), ends
        assert exit_code in (0, -sig)  # uvicorn re-raises SIGTERM once it is done
        return elapsed

    elapsed = asyncio.run(check())
    assert elapsed < 5
    log = server.output()
    assert len(re.findall(r"close hook \w+ 1001", log)) == PEERS, log
    assert log.count("stream closed") == STREAMS, log
    assert "Application shutdown complete" in log


def test_hand_written_sse_responses_end_too(server_factory: ServerFactory) -> None:
    """sse-starlette ends its own responses once it sees the server stopping.

    It hooks uvicorn's exit handler when imported, before the CLI starts the
    server; were that lost, the stream would hold the server for its graceful
    timeout (3 s).
    """
    server = server_factory(routes=TREE)

    assert asyncio.run(seconds_to_end_on_sigterm(server, "/plain")) < 2


def test_hand_written_sse_responses_end_where_sse_starlettes_patch_came_too_late(
    server_factory: ServerFactory,
) -> None:
    """In a worker (`--workers`, `--reload`) the app is imported after uvicorn bound its
    signal handler, so sse-starlette's patch of uvicorn misses it: sse-starlette then finds
    the server through that handler, which must still be uvicorn's."""
    missed = (
        "import uvicorn.server; from sse_starlette.sse import AppStatus; "
        "uvicorn.server.Server.handle_exit = AppStatus.original_handler; "
    )
    server = server_factory(routes=TREE, prelude=missed)

    assert asyncio.run(seconds_to_end_on_sigterm(server, "/plain")) < 2


def test_streams_end_properly_when_sse_starlette_sees_the_shutdown_first(
    server_factory: ServerFactory,
) -> None:
    """sse-starlette polls for the server's exit itself and cuts the responses it sees
    then; here uvicorn is a second late, so that sse-starlette always sees it first."""
    late = (
        "import asyncio, uvicorn.server\n"
        "tick = uvicorn.server.Server.on_tick\n"
        "async def late_tick(self, counter):\n"
        "    if self.should_exit:\n"
        "        await asyncio.sleep(1)\n"
        "    return await tick(self, counter)\n"
        "uvicorn.server.Server.on_tick = late_tick\n"
    )
    server = server_factory(routes=TREE, prelude=late)

    async def check() -> None:
        streams = await asyncio.gather(*(open_stream(server, p) for p in ["/feed", "/wait"] * 5))
        server.process.send_signal(signal.SIGTERM)
        ends = await asyncio.gather(*(stream_end(stream) for stream in streams))
        assert [end[-5:] for end in ends] == [b"0\r\n\r\n"] * len(streams)  # not cut short

    asyncio.run(check())


@pytest.mark.parametrize(("action", "exit_code"), [("SIG_DFL", -signal.SIGTERM), ("SIG_IGN", 0)])
def test_sigterm_keeps_its_action_outside_uvicorn(action: str, exit_code: int) -> None:
    """A process that runs the app's lifespan under no uvicorn still dies of SIGTERM (or ignores it)."""
    script = f"""
import asyncio, os, signal
from {PACKAGE}.app import create_app
from {PACKAGE}.settings import Settings

signal.signal(signal.SIGTERM, signal.{action})
app = create_app(Settings(_env_file=None))

async def main() -> None:
    async with app.router.lifespan_context(app):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(2)

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert result.returncode == exit_code, result.stderr.decode()


def test_uvicorn_shuts_down_after_the_hubs_closes_went_out() -> None:
    """uvicorn's shutdown closes every WebSocket with 1012: by then the hub's 1001 closes
    must have gone out, and the signal handler must still be uvicorn's own."""
    events: list[str] = []

    class Connection:
        def shut_down(self) -> None:  # as Peer.terminate: the close goes out from a task
            asyncio.get_running_loop().create_task(self.send_close())

        async def send_close(self) -> None:
            events.append("close 1001 sent")

    class Recorder(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            events.append("uvicorn shut down")

    server = Recorder(uvicorn.Config(app=None))

    async def check() -> None:
        hub = Hub(Bus(backend_from_url("memory://")), Limits())
        async with hub.running():
            assert signal.getsignal(signal.SIGTERM) == server.handle_exit
            hub.open.add(Connection())
            await server.shutdown()
            hub.open.clear()
        assert "shutdown" not in vars(server)  # detached with the lifespan

    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        asyncio.run(check())
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert events == ["close 1001 sent", "uvicorn shut down"]
