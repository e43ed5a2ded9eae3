"""The clients, run in their own process by run.py: `python clients.py KIND JSON` prints JSON.

fanout: N subscribers and one publisher per target, all connected at once; the
    targets are measured one after the other, round after round, so that every
    target sees the same machine. The publisher keeps at most `window` messages
    in flight (sent but not yet received by every subscriber), which stays below
    the servers' send queues: nobody is closed for being slow, and deliveries
    are counted where they arrive.
burst: the same room, but the publisher writes all its messages at once, as a
    client may; every subscriber checks it got each one, once and in order, and
    an optional stalled reader (4 KiB receive buffer, never reads) must be closed.
sse: `streams` ticker streams on every target at once, held for `seconds`.
churn: WebSocket and SSE connect/disconnect cycles against one target.

Server CPU and RSS are read from /proc for the pids given, at the edges of each
measured window.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import resource
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

from proc import peak_rss_kb, usage
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

CONNECT_CONCURRENCY = 100
STALL_SECONDS = 10.0
# How long a stalled reader may stay connected once the healthy ones are done.
CLOSE_SECONDS = 5.0
ESTABLISHED = 1  # TCP_ESTABLISHED, as /proc/net/tcp numbers states


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def own_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def gather_limited(factories: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def run(factory: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await factory()

    return await asyncio.gather(*(run(f) for f in factories))


async def ws_connect(url: str) -> ClientConnection:
    # No compression: the bench measures the framework, not zlib.
    return await connect(url, compression=None, open_timeout=20, ping_interval=None, max_queue=None)


# --- fan-out -------------------------------------------------------------------------------


@dataclass
class Room:
    """One target: its subscribers, its publisher and the delivery bookkeeping."""

    name: str
    url: str
    pids: list[int]
    n: int
    window: int
    aux_pids: list[int] = field(default_factory=list)  # e.g. redis-server, reported apart
    subscribers: list[Subscriber] = field(default_factory=list)
    publisher: ClientConnection | None = None
    ready: int = 0
    received: int = 0
    completed: int = 0  # messages received by all n subscribers (in order, per connection)
    counts: list[int] = field(default_factory=list)
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.counts = [0] * (2 * self.window)

    async def connect(self) -> None:
        self.subscribers = await gather_limited([lambda: Subscriber.open(self.url, self)] * self.n)
        self.publisher = await ws_connect(self.url)
        # Subscribing happens after the handshake: probe until every subscriber hears.
        async with asyncio.timeout(30):
            while not self.all_ready.is_set():
                await self.publisher.send("w")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.all_ready.wait(), 0.1)

    def heard(self) -> None:
        """A subscriber got its first message: it is subscribed."""
        self.ready += 1
        if self.ready == self.n:
            self.all_ready.set()

    def count(self, data: bytes) -> None:
        self.received += 1
        i = int(data[:8]) % len(self.counts)
        self.counts[i] += 1
        if self.counts[i] == self.n:
            self.counts[i] = 0
            self.completed += 1
            self.progress.set()

    async def measure(self, seconds: float, size: int) -> dict[str, Any]:
        assert self.publisher is not None
        send, window = self.publisher.send, self.window
        pad = "x" * max(0, size - 9)
        # Whatever is in flight from the probes has drained: start from a clean count.
        self.received = self.completed = 0
        cpu0, _ = usage(self.pids)
        aux0, _ = usage(self.aux_pids)
        client0, t0 = own_cpu(), time.perf_counter()
        deadline = t0 + seconds
        sent = 0
        while True:
            now = time.perf_counter()
            if now < deadline:
                while sent - self.completed < window:
                    await send(f"{sent:08d} {pad}")
                    sent += 1
            elif self.completed == sent:
                break
            self.progress.clear()
            if sent - self.completed >= window or now >= deadline:
                try:
                    await asyncio.wait_for(self.progress.wait(), STALL_SECONDS)
                except TimeoutError:
                    dead = sum(subscriber.closed for subscriber in self.subscribers)
                    raise RuntimeError(
                        f"{self.name}: no delivery for {STALL_SECONDS} s "
                        f"({dead} subscribers closed, {sent - self.completed} messages in flight)"
                    ) from None
        elapsed = time.perf_counter() - t0
        cpu1, rss1 = usage(self.pids)
        aux1, _ = usage(self.aux_pids)
        client = own_cpu() - client0
        return {
            "target": self.name,
            "messages": sent,
            "deliveries": self.received,
            "seconds": elapsed,
            "server_cpu": cpu1 - cpu0,
            "client_cpu": client,
            "rss_kb": rss1,
        } | ({"aux_cpu": aux1 - aux0} if self.aux_pids else {})

    async def close(self) -> None:
        for subscriber in self.subscribers:
            subscriber.close()
        if self.publisher is not None:
            await self.publisher.close()


class Listener(Protocol):
    def heard(self) -> None: ...

    def count(self, data: bytes) -> None: ...


class Subscriber(asyncio.Protocol):
    """A receive-only WebSocket client on websockets' sans-I/O protocol.

    The asyncio client wakes a task per message; with a thousand of them the
    clients, not the server, would set the pace on a small machine.
    """

    def __init__(self, url: str, room: Listener) -> None:
        self.protocol = ClientProtocol(parse_uri(url))
        self.room = room
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.heard = False
        self.closed = False

    @classmethod
    async def open(cls, url: str, room: Listener) -> Self:
        uri = parse_uri(url)
        loop = asyncio.get_running_loop()
        _, subscriber = await loop.create_connection(lambda: cls(url, room), uri.host, uri.port)
        async with asyncio.timeout(20):
            await subscriber.opened
        return subscriber

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    if event.data[0] != 0x77:  # "w", a probe
                        self.on_text(bytes(event.data))
                    elif not self.heard:
                        self.heard = True
                        self.room.heard()
            elif isinstance(event, Response) and not self.opened.done():
                if self.protocol.handshake_exc is not None:
                    self.opened.set_exception(self.protocol.handshake_exc)
                else:
                    self.opened.set_result(None)
        self._flush()

    def on_text(self, data: bytes) -> None:
        self.room.count(data)

    def send_all(self, texts: list[str]) -> None:
        """Frame every text, then write them in one go."""
        assert self.transport is not None
        for text in texts:
            self.protocol.send_text(text.encode())
        self.transport.write(b"".join(self.protocol.data_to_send()))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.protocol.send_close()
            self._flush()
            self.transport.close()

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)


async def fanout(config: dict[str, Any]) -> list[dict[str, Any]]:
    rooms = [
        Room(t["name"], t["url"], t["pids"], config["n"], config["window"], t.get("aux_pids", []))
        for t in config["targets"]
    ]
    try:
        for room in rooms:
            await room.connect()
        results = []
        for round_ in range(config["repeat"]):
            # Alternate who goes first, so that a drift in the machine's load hits both.
            order = rooms if round_ % 2 == 0 else rooms[::-1]
            for room in order:
                result = await room.measure(config["seconds"], config["size"])
                results.append(result | {"round": round_})
        return results
    finally:
        for room in rooms:
            await room.close()


# --- bursts --------------------------------------------------------------------------------


class Reader(Subscriber):
    """A subscriber that checks that a burst arrives whole, once and in order.

    Past the handshake it reads the server's frames itself (unmasked, never
    fragmented here): websockets' parser costs the client several times what the
    server spends per delivery, and the clients would set the pace of a burst.
    """

    def __init__(self, url: str, room: Burst) -> None:
        super().__init__(url, room)
        self.burst = room
        self.received = 0
        self.disordered = 0  # arrivals that were not the one after the previous one
        self.last = -1
        self.raw = False
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        if not self.raw:
            super().data_received(data)  # the handshake, and any frame right behind it
            self.raw = self.opened.done()
            return
        buffer = self.pending + data if self.pending else data
        at, end = 0, len(buffer)
        while end - at >= 2:
            size, head = buffer[at + 1] & 0x7F, 2
            if size == 126:
                size, head = int.from_bytes(buffer[at + 2 : at + 4]), 4
            elif size == 127:
                size, head = int.from_bytes(buffer[at + 2 : at + 10]), 10
            if end - at < head + size:
                break
            opcode, start = buffer[at] & 0x0F, at + head
            at = start + size
            if opcode == Opcode.TEXT:
                if buffer[start] != 0x77:  # "w", a probe
                    self.on_text(buffer[start : start + 8])
                elif not self.heard:
                    self.heard = True
                    self.room.heard()
            elif opcode in (Opcode.PING, Opcode.CLOSE):
                self.answer(0x8A if opcode == Opcode.PING else 0x88, buffer[start:at])
        self.pending = buffer[at:]

    def answer(self, first: int, payload: bytes) -> None:
        """A pong, or the close echoed, masked with a zero key (RFC 6455 allows any)."""
        assert self.transport is not None
        self.transport.write(bytes((first, 0x80 | len(payload))) + bytes(4) + payload)
        if first == 0x88:
            self.transport.close()

    def on_text(self, data: bytes) -> None:
        n = int(data[:8])
        if n != self.last + 1:
            self.disordered += 1
        self.last = n
        self.received += 1
        self.burst.progress.set()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.answer(0x88, (1000).to_bytes(2))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.burst.progress.set()


class SseReader(asyncio.Protocol):
    """An SSE stream on a bare connection that checks a burst as `Reader` does."""

    def __init__(self, room: Burst) -> None:
        self.burst = room
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.head = True
        self.pending = b""
        self.heard = self.closed = False
        self.received = self.disordered = 0
        self.last = -1

    @classmethod
    async def open(cls, url: str, room: Burst) -> SseReader:
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        port = parts.port or 80
        host = parts.hostname or "127.0.0.1"
        _, reader = await loop.create_connection(lambda: cls(room), host, port)
        assert reader.transport is not None
        reader.transport.write(
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        async with asyncio.timeout(20):
            await reader.opened
        return reader

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self.pending + data
        if self.head:
            if b"\r\n\r\n" not in buffer:
                self.pending = buffer
                return
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            self.head = False
            if not head.startswith(b"HTTP/1.1 200"):
                self.opened.set_exception(RuntimeError(head.split(b"\r\n")[0].decode()))
                return
            self.opened.set_result(None)
        end = buffer.rfind(b"\n") + 1
        # Chunk sizes and blank lines pass by: an event never spans two HTTP chunks.
        for line in buffer[:end].split(b"\n"):
            if line.startswith(b"data: "):
                if line[6] == 0x77:  # "w", a probe
                    if not self.heard:
                        self.heard = True
                        self.burst.heard()
                else:
                    n = int(line[6:14])
                    if n != self.last + 1:
                        self.disordered += 1
                    self.last = n
                    self.received += 1
        self.pending = buffer[end:]
        self.burst.progress.set()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before the response"))
        self.burst.progress.set()


def stalled_reader(url: str) -> socket.socket:
    """A WebSocket that completes its handshake, then never reads: a 4 KiB receive window."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window
    sock.settimeout(20)
    sock.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # byte by byte: not a byte of the first frame
        head += sock.recv(1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"{url}: stalled reader refused: {head!r}")
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed its end of `sock`'s connection, read from /proc/net/tcp.

    The client cannot tell: the server's FIN waits behind the data it never read.
    """
    here, there = (f"{socket.htonl(0x7F000001):08X}:{port:04X}" for port in (
        sock.getsockname()[1], sock.getpeername()[1]))  # fmt: skip
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == there and fields[2] == here:
            return int(fields[3], 16) != ESTABLISHED
    return True  # gone altogether


@dataclass
class Burst:
    """One target: readers, a publisher that sends everything at once, maybe a stalled reader."""

    name: str
    url: str
    pids: list[int]
    n: int
    sse_url: str | None = None  # readers follow the relay as SSE streams here
    readers: list[Reader | SseReader] = field(default_factory=list)
    publisher: Subscriber | None = None
    ready: int = 0
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    rss_empty_kb: int = 0
    rss_idle_kb: int = 0

    def heard(self) -> None:
        self.ready += 1
        if self.ready >= len(self.readers):
            self.all_ready.set()

    def count(self, data: bytes) -> None:
        pass  # the publisher hears nothing but probes

    async def connect(self) -> None:
        """(Re)connect the readers that are not open, and wait until each is subscribed."""
        if self.publisher is None:
            self.publisher = await Subscriber.open(self.url, self)
            await asyncio.sleep(0.5)
            self.rss_empty_kb = usage(self.pids)[1]
        alive = [r for r in self.readers if not r.closed]
        open_reader: Callable[[], Awaitable[Reader | SseReader]] = (
            (lambda: Reader.open(self.url, self))
            if self.sse_url is None
            else (lambda: SseReader.open(str(self.sse_url), self))
        )
        fresh = await gather_limited([open_reader] * (self.n - len(alive)))
        self.readers = alive + fresh
        for reader in self.readers:
            reader.heard = False
        self.ready = 0
        self.all_ready.clear()
        async with asyncio.timeout(30):
            while not self.all_ready.is_set():
                self.publisher.send_all(["w"])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.all_ready.wait(), 0.1)
        if not self.rss_idle_kb:
            await asyncio.sleep(0.5)
            self.rss_idle_kb = usage(self.pids)[1]

    async def measure(self, messages: int, size: int, stalled: bool) -> dict[str, Any]:
        # Connected first, so that its `open` has surely run once the others hear the probe.
        stall = await asyncio.to_thread(stalled_reader, self.url) if stalled else None
        await self.connect()
        assert self.publisher is not None
        for reader in self.readers:
            reader.received = reader.disordered = 0
            reader.last = -1
        pad = "x" * max(0, size - 9)
        texts = [f"{i:08d} {pad}" for i in range(messages)]
        cpu0, _ = usage(self.pids)
        t0 = time.perf_counter()
        self.publisher.send_all(texts)
        while not all(r.closed or r.received == messages for r in self.readers):
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), STALL_SECONDS)
            except TimeoutError:
                break  # nothing moves any more: what has not arrived is lost
        elapsed = time.perf_counter() - t0
        cpu1, _ = usage(self.pids)
        stall_closed: float | None = None
        if stall is not None:
            deadline = time.perf_counter() + CLOSE_SECONDS
            while not closed_by_server(stall) and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            if closed_by_server(stall):
                stall_closed = time.perf_counter() - t0
            stall.close()
        delivered = sum(r.received for r in self.readers)
        return {
            "target": self.name,
            "subscribers": self.n,
            "messages": messages,
            "deliveries": delivered,
            "lost": self.n * messages - delivered,
            "disordered": sum(r.disordered for r in self.readers),
            "closed": sum(r.closed for r in self.readers),
            "stalled": stalled,
            "stalled_closed_after": stall_closed,
            "seconds": elapsed,
            "server_cpu": cpu1 - cpu0,
            "peak_rss_kb": peak_rss_kb(self.pids),
            "rss_empty_kb": self.rss_empty_kb,
            "rss_idle_kb": self.rss_idle_kb,
        }

    async def close(self) -> None:
        for subscriber in [*self.readers, *([self.publisher] if self.publisher else [])]:
            subscriber.close()


async def burst(config: dict[str, Any]) -> list[dict[str, Any]]:
    rooms = [Burst(t["name"], t["url"], t["pids"], config["n"], t.get("sse_url")) for t in config["targets"]]
    try:
        results = []
        for round_ in range(config["repeat"]):
            for room in rooms if round_ % 2 == 0 else rooms[::-1]:
                result = await room.measure(config["messages"], config["size"], config["stalled"])
                results.append(result | {"round": round_})
        return results
    finally:
        for room in rooms:
            await room.close()


# --- SSE -----------------------------------------------------------------------------------


class Stream:
    """One raw HTTP/1.1 SSE stream that counts `event: tick` lines, nothing more."""

    def __init__(self) -> None:
        self.events = 0
        self.first = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self, url: str) -> None:
        parts = urlsplit(url)
        reader, self.writer = await asyncio.open_connection(parts.hostname, parts.port)
        self.writer.write(
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{url}: {head.splitlines()[0].decode()}")
        self.task = asyncio.create_task(self._count(reader))

    async def _count(self, reader: asyncio.StreamReader) -> None:
        tail = b""
        while data := await reader.read(65536):
            chunk = tail + data
            found = chunk.count(b"event: tick")
            if found:
                self.events += found
                self.first.set()
            tail = chunk[-10:]

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        if self.task is not None:
            self.task.cancel()


async def open_streams(url: str, n: int) -> list[Stream]:
    streams = [Stream() for _ in range(n)]
    await gather_limited([lambda s=s: s.open(url) for s in streams])  # type: ignore[misc]
    async with asyncio.timeout(20):
        for stream in streams:
            await stream.first.wait()
    return streams


async def sse(config: dict[str, Any]) -> list[dict[str, Any]]:
    targets, n = config["targets"], config["streams"]
    for target in targets:  # imports and first-request caches are not per-stream memory
        (warm,) = await open_streams(target["url"], 1)
        await warm.close()
    await asyncio.sleep(0.5)
    before = {t["name"]: usage(t["pids"]) for t in targets}
    opened = await asyncio.gather(*(open_streams(t["url"], n) for t in targets))
    connected = {t["name"]: usage(t["pids"]) for t in targets}
    events0 = [sum(s.events for s in streams) for streams in opened]
    await asyncio.sleep(config["seconds"])
    held = {t["name"]: usage(t["pids"]) for t in targets}
    events1 = [sum(s.events for s in streams) for streams in opened]
    for streams in opened:
        await asyncio.gather(*(s.close() for s in streams))
    await asyncio.sleep(1.0)
    after = {t["name"]: usage(t["pids"]) for t in targets}
    return [
        {
            "target": t["name"],
            "streams": n,
            "seconds": config["seconds"],
            "events": events1[i] - events0[i],
            "connect_cpu": connected[t["name"]][0] - before[t["name"]][0],
            "hold_cpu": held[t["name"]][0] - connected[t["name"]][0],
            "rss_before_kb": before[t["name"]][1],
            "rss_held_kb": held[t["name"]][1],
            "rss_closed_kb": after[t["name"]][1],
        }
        for i, t in enumerate(targets)
    ]


# --- churn ---------------------------------------------------------------------------------


async def ws_cycle(url: str) -> None:
    ws = await ws_connect(url)
    await ws.send("w")
    await ws.close()


async def sse_cycle(url: str) -> None:
    (stream,) = await open_streams(url, 1)
    await stream.close()


async def churn(config: dict[str, Any]) -> dict[str, Any]:
    pids, cycles, warmup = config["pids"], config["cycles"], config["warmup"]
    ws_url, sse_url = config["ws_url"], config["sse_url"]

    async def cycle_all(count: int) -> None:
        await gather_limited([lambda: ws_cycle(ws_url)] * count)
        await gather_limited([lambda: sse_cycle(sse_url)] * count)
        await asyncio.sleep(1.0)  # let the server finish closing what the clients closed

    await cycle_all(warmup)
    before = usage(pids)[1]
    t0 = time.perf_counter()
    await cycle_all(cycles)
    middle = usage(pids)[1]
    await cycle_all(cycles)
    return {
        "target": config["name"],
        "cycles": cycles,
        "seconds": time.perf_counter() - t0,
        "rss_before_kb": before,
        "rss_after_kb": middle,
        "rss_after_2x_kb": usage(pids)[1],
    }


KINDS: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
    "fanout": fanout,
    "burst": burst,
    "sse": sse,
    "churn": churn,
}


def main() -> None:
    kind, config = sys.argv[1], json.loads(sys.argv[2])
    raise_fd_limit()
    try:
        import uvloop

        run: Callable[..., Any] = uvloop.run
    except ImportError:
        run = asyncio.run
    json.dump(run(KINDS[kind](config)), sys.stdout)


if __name__ == "__main__":
    main()
