"""What presence costs Redis: commands per heartbeat and per second, per join, per read.

Run it with the Python of a baked project's venv, e.g.
`build/bench/realtime-app/.venv/bin/python bench/presence.py`. It starts a
redis-server of its own on 127.0.0.1 (or uses `--redis-url`, whose other
traffic then counts too) and drives the project's own presence code in this
process: `Presence` over the Redis backend's store, exactly what
`peer.subscribe(topic, presence=...)` and `presence(topic)` call, without
the WebSockets around it. Redis's `INFO commandstats` counts the commands
(INFO itself excluded); the idle window is measured between heartbeats, seen
as PEXPIRE calls, so that it holds whole heartbeats only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH: install it, or pass --redis-url")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="presence-bench-") as folder:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"redis-server did not start on {port}") from None
                    time.sleep(0.05)  # nothing to wait on but the port
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(10)


class Counter:
    """Commands Redis has run, by name, INFO excluded (it is how we look)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def calls(self) -> dict[str, int]:
        stats: dict[str, Any] = await self.redis.info("commandstats")
        calls = {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in stats.items()}
        calls.pop("info", None)
        return calls

    @staticmethod
    def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
        names = sorted(set(before) | set(after))
        changed = {name: after.get(name, 0) - before.get(name, 0) for name in names}
        return {name: count for name, count in changed.items() if count}

    async def wait_for_beat(self, timeout: float) -> dict[str, int]:
        """Wait for this process's next heartbeat (a PEXPIRE); return the counts after it."""
        start = (await self.calls()).get("pexpire", 0)
        deadline = time.monotonic() + timeout
        while (await self.calls()).get("pexpire", 0) == start:
            if time.monotonic() > deadline:
                raise SystemExit(f"no heartbeat within {timeout:.1f}s")
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # the beat's EVAL follows its PEXPIRE in the same round trip
        return await self.calls()


async def measure(args: argparse.Namespace, url: str, peers: int) -> None:
    backends = importlib.import_module(f"{args.package}.realtime.backends")
    presence_module = importlib.import_module(f"{args.package}.realtime.presence")
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    store = backends.backend_from_url(url, prefix).presence_store(args.ttl)
    presence = presence_module.Presence(store)
    redis = Redis.from_url(url)
    counter = Counter(redis)
    memory_before = (await redis.info("memory"))["used_memory"]
    await presence.start()

    before = await counter.calls()
    started = time.perf_counter()
    for n in range(peers):
        member = presence_module.Member(uuid.uuid4().hex, f"peer-{n}", {"status": "online"})
        await presence.join(f"room-{n % args.topics}", member)
    joined = time.perf_counter() - started
    joins = sum(Counter.delta(before, await counter.calls()).values())
    memory = (await redis.info("memory"))["used_memory"] - memory_before

    interval = store.interval
    start = await counter.wait_for_beat(interval * 2)
    window_start = time.perf_counter()
    end = start
    for _ in range(args.beats):
        end = await counter.wait_for_beat(interval * 2)
    window = time.perf_counter() - window_start
    beat = Counter.delta(start, end)
    sent = beat.get("pexpire", 0) + beat.get("eval", 0)
    executed = sum(beat.values())

    reader = backends.backend_from_url(url, prefix).presence_store(args.ttl)  # another process
    await reader.start({})
    reads = 20
    before = await counter.calls()
    started = time.perf_counter()
    for _ in range(reads):
        listed = await reader.others("room-0")
    read_ms = (time.perf_counter() - started) / reads * 1000
    read_commands = sum(Counter.delta(before, await counter.calls()).values()) / reads

    await reader.stop()
    await presence.stop()
    await redis.aclose()
    print(
        f"{peers:>6} peers in {min(peers, args.topics)} topic(s), PRESENCE_TTL {args.ttl:g}s "
        f"(heartbeat every {interval:.2f}s):\n"
        f"  idle: {sent / args.beats:.0f} commands sent and {executed / args.beats:.0f} run by "
        f"Redis per heartbeat ({executed / window:.2f}/s over {window:.1f}s: {beat})\n"
        f"  joins: {joins / peers:.1f} commands each, {joined / peers * 1e6:.0f} us each; "
        f"Redis memory +{memory / 1024:.0f} KiB\n"
        f"  presence() of a topic of {len(listed)} from another process: "
        f"{read_commands:.0f} commands, {read_ms:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="realtime_app", help="the baked project's package")
    parser.add_argument("--peers", default="1,1000", help="members in this process (each a run)")
    parser.add_argument("--topics", type=int, default=10, help="topics the members spread over")
    parser.add_argument("--ttl", type=float, default=30.0, help="PRESENCE_TTL (default %(default)s)")
    parser.add_argument("--beats", type=int, default=2, help="heartbeats in the idle window")
    parser.add_argument("--redis-url", help="use this Redis instead of starting redis-server")
    args = parser.parse_args()
    with redis_server(args.redis_url) as url:
        for peers in (int(n) for n in args.peers.split(",")):
            asyncio.run(measure(args, url, peers))


if __name__ == "__main__":
    main()
