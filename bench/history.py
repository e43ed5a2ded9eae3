"""What history costs a publish: a topic with history against one without, in memory and on Redis.

Run it with the Python of a baked project's venv (`make bench` bakes one):

    build/bench/realtime-app/.venv/bin/python bench/history.py [--redis-url URL]

It drives the app's own `Bus` in this process, with `--subscribers` local
subscribers that only count, so what is measured is the bus and the backend:
- burst: `--messages` publishes started at once (as clients may send them):
  wall microseconds per message until every local subscriber has had each one,
  CPU microseconds per message in this process (everything it does for them,
  reading its own messages back from Redis included) and in redis-server;
- latency: one publish at a time, from the call to its delivery here: with
  history on Redis, the publisher's own process delivers what Redis hands back.
Without --redis-url it starts a private redis-server on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

from proc import cpu_seconds

SETTLE = 0.5  # seconds after a burst's last delivery, counted in its CPU


class Counter:
    """A subscriber that only counts, and says when it has seen `expected` messages."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.seen = 0
        self.expected = 0
        self.done = asyncio.Event()
        self.last = 0.0  # when the last message came

    def deliver(self, frame: Any, message_id: str | None = None) -> None:
        self.seen += 1
        self.last = time.perf_counter()
        if self.seen >= self.expected:
            self.done.set()

    def expect(self, count: int) -> None:
        self.seen, self.expected = 0, count
        self.done.clear()


async def measure(
    realtime: Any, url: str, size: int, args: argparse.Namespace, redis_pid: int | None
) -> dict[str, float]:
    backend = realtime.backend_from_url(url, f"bench-{uuid.uuid4().hex[:8]}:")
    bus = realtime.Bus(backend, history_size=size)
    await bus.start()
    counters = [Counter() for _ in range(args.subscribers)]
    for counter in counters:
        await bus.subscribe("bench", counter)
    payload = {"text": "x" * args.size}
    try:
        for counter in counters:
            counter.expect(args.messages)
        redis_before = cpu_seconds(redis_pid) if redis_pid else 0.0
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(bus.publish("bench", payload) for _ in range(args.messages)))
        await asyncio.wait_for(asyncio.gather(*(c.done.wait() for c in counters)), 60)
        wall = time.perf_counter() - wall
        # What follows delivery (writing to Redis, reading back one's own messages) is
        # part of the cost: let it finish, idle time costs no CPU.
        await asyncio.sleep(SETTLE)
        cpu = time.process_time() - cpu
        redis_cpu = (cpu_seconds(redis_pid) - redis_before) if redis_pid else 0.0

        latencies = []
        for _ in range(args.sequential):
            for counter in counters:
                counter.expect(1)
            start = time.perf_counter()
            await bus.publish("bench", payload)
            await asyncio.wait_for(counters[0].done.wait(), 10)
            latencies.append(counters[0].last - start)
    finally:
        await bus.stop()
    per = 1e6 / args.messages
    latencies.sort()
    return {
        "wall": wall * per,
        "cpu": cpu * per,
        "redis": redis_cpu * per,
        "p50": statistics.median(latencies) * 1e6,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1e6,
    }


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[tuple[str, int | None]]:
    if url:
        yield url, None
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH: install it, or pass --redis-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="realtime-bench-") as workdir:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", workdir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"redis-server did not start on {port}") from None
                    time.sleep(0.05)  # a port that is not open yet: no event to wait on
            yield f"redis://127.0.0.1:{port}/0", process.pid
        finally:
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="realtime_app", help="the baked project's package")
    parser.add_argument("--messages", type=int, default=5000, help="publishes per burst")
    parser.add_argument("--sequential", type=int, default=500, help="publishes timed one by one")
    parser.add_argument("--subscribers", type=int, default=10, help="local subscribers")
    parser.add_argument("--size", type=int, default=64, help="characters of text per message")
    parser.add_argument("--history", type=int, default=100, help="HISTORY_SIZE of the history rows")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per row (medians reported)")
    parser.add_argument("--redis-url", help="use this Redis instead of starting redis-server")
    args = parser.parse_args()
    realtime = importlib.import_module(f"{args.package}.realtime")

    with redis_server(args.redis_url) as (url, pid):
        rows = [
            ("memory://, no history", "memory://", 0, None),
            (f"memory://, history {args.history}", "memory://", args.history, None),
            ("redis://, no history", url, 0, pid),
            (f"redis://, history {args.history}", url, args.history, pid),
        ]
        results: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in rows}
        for round_ in range(args.repeat):
            for name, row_url, size, row_pid in rows[round_ % 2 :: 1] + rows[: round_ % 2]:
                results[name].append(asyncio.run(measure(realtime, row_url, size, args, row_pid)))

    print(
        f"publish cost: {args.messages} publishes at once to {args.subscribers} local subscribers, "
        f"then {args.sequential} one at a time; {args.repeat} rounds (medians)"
    )
    columns = ("wall", "cpu", "redis", "p50", "p99")
    print(f"{'':28} {'wall us/msg':>12} {'CPU us/msg':>11} {'redis us/msg':>13} {'p50 us':>8} {'p99 us':>8}")
    for name, runs in results.items():
        medians = [statistics.median(run[column] for run in runs) for column in columns]
        print(f"{name:28} {medians[0]:12.1f} {medians[1]:11.1f} {medians[2]:13.1f} "
              f"{medians[3]:8.0f} {medians[4]:8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
