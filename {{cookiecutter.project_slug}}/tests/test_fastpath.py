"""The direct way out writes exactly what uvicorn's own path writes, and the connection
keeps working as a WebSocket: ping, close, shutdown, permessage-deflate."""

from __future__ import annotations

import asyncio
import signal

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from {{ cookiecutter.package_name }}.realtime.frames import BINARY, TEXT, frame_bytes, to_frame

from . import wire
from .conftest import Server, ServerFactory
from .route_trees.delivery._payloads import PAYLOADS
from .test_delivery import PATHS, ROOM, TREE, path, peer, report, start

__all__ = ["path"]  # the fixture, shared with test_delivery
pytestmark = pytest.mark.timeout(60)
DEFLATE = "permessage-deflate; client_max_window_bits"


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 1_000_000])
@pytest.mark.parametrize(("opcode", "kind"), [(TEXT, Opcode.TEXT), (BINARY, Opcode.BINARY)])
def test_frames_are_built_as_websockets_serialises_them(
    size: int, opcode: int, kind: Opcode
) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert frame_bytes(opcode, payload) == Frame(kind, payload).serialize(mask=False)


def raw_frames(server: Server, offer: str | None) -> bytes:
    """Every byte of the frames `payloads` makes the server send, the last one "end"."""
    with wire.handshake(server.port, ROOM, extensions=offer) as sock:
        wire.read_frame(sock)  # "ready <path>"
        sock.sendall(wire.frame(wire.TEXT, b"payloads"))
        return b"".join(wire.read_raw_frame(sock) for _ in range(len(PAYLOADS) + 1))


@pytest.mark.parametrize("offer", [None, DEFLATE], ids=["plain", "deflate-offered"])
def test_both_ways_out_write_the_same_bytes(server_factory: ServerFactory, offer: str) -> None:
    """Text, binary, JSON, unicode, empty and 1 MB payloads; deflate is off by default."""
    direct, asgi = (start(server_factory, name) for name in PATHS)
    expected = b"".join(to_frame(payload).wire() for payload in [*PAYLOADS, "end"])
    assert raw_frames(direct, offer) == raw_frames(asgi, offer) == expected


def test_with_deflate_negotiated_both_servers_write_the_same_bytes(
    server_factory: ServerFactory,
) -> None:
    """The app's protocol leaves such a connection to uvicorn's own path, as the stock one does."""
    direct, asgi = (start(server_factory, name, WS_PERMESSAGE_DEFLATE="true") for name in PATHS)
    compressed = raw_frames(direct, DEFLATE)
    assert compressed == raw_frames(asgi, DEFLATE)
    assert compressed[0] & 0x40  # RSV1: this frame is compressed
    assert len(compressed) < len(b"".join(to_frame(payload).wire() for payload in PAYLOADS))


def test_a_connection_that_negotiated_deflate_takes_the_asgi_path(
    server_factory: ServerFactory,
) -> None:
    server = start(server_factory, "direct", WS_PERMESSAGE_DEFLATE="true")

    async def check() -> None:
        async with peer(server, "asgi", compression="deflate") as ws:
            assert ws.protocol.extensions  # negotiated
            await ws.send("payloads")
            received = [await asyncio.wait_for(ws.recv(), 10) for _ in PAYLOADS]
            assert received == [as_received(payload) for payload in PAYLOADS]
        async with peer(server, "direct", compression=None):
            pass

    asyncio.run(check())


def as_received(payload: object) -> str | bytes:
    frame = to_frame(payload)
    data: str | bytes = frame["text"] if "text" in frame else frame["bytes"]
    return data


def test_ping_and_close_work_on_both_ways_out(server_factory: ServerFactory, path: str) -> None:
    server = start(server_factory, path)

    async def check() -> None:
        async with peer(server, path) as ws:
            await asyncio.wait_for(await ws.ping(), 5)
            await ws.send("close")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert (ws.close_code, ws.close_reason) == (4000, "asked to")
        async with peer(server, path) as ws:
            await ws.close(4001, "leaving")
        closes = report(server, 2)["closes"]
        assert [(c["code"], c["reason"]) for c in closes] == [(4000, "asked to"), (4001, "leaving")]

    asyncio.run(check())


def test_shutdown_closes_with_1001_on_both_ways_out(
    server_factory: ServerFactory, path: str
) -> None:
    server = start(server_factory, path)

    async def check() -> None:
        async with peer(server, path) as a, peer(server, path) as b:
            server.process.send_signal(signal.SIGTERM)
            for ws in (a, b):
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10)
                assert ws.close_code == 1001

    asyncio.run(check())


def test_uvicorns_legacy_websockets_implementation_writes_the_same_bytes(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(routes=TREE, ws="websockets")
    expected = b"".join(to_frame(payload).wire() for payload in [*PAYLOADS, "end"])
    assert raw_frames(server, None) == expected
