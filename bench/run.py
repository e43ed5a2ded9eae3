"""Benchmark the generated app against plain Starlette and bare sse-starlette, in one run.

Run it with the Python of a baked project's venv (`make bench` at the template's root
does it all). Servers are real uvicorn processes on 127.0.0.1 with identical settings;
the clients run in their own process (clients.py); server CPU and RSS come from /proc.
See README.md for what each phase measures and how to read the table.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import math
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proc import workers

BENCH = Path(__file__).resolve().parent
PHASES = ("fanout", "burst", "stalled", "sse", "sse_burst", "redis", "churn")
# Bursts without a window: (subscribers, messages, bytes per message), as in issue #11.
BURSTS = ((100, 5000, 100), (1000, 500, 100))
STALLED = (10, 2000, 8000)  # 10 readers and 1 stalled one
SSE_BURST = (100, 2000, 100)  # SSE streams following the relay's topic


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    workers: int

    @property
    def pids(self) -> list[int]:
        return workers(self.process.pid) if self.workers > 1 else [self.process.pid]

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def target(self, scheme: str, path: str, **extra: Any) -> dict[str, Any]:
        return {"name": self.name, "url": self.url(scheme, path), "pids": self.pids, **extra}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.results: dict[str, Any] = {}

    # --- processes -------------------------------------------------------------------------

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
        env |= {
            "BENCH_PACKAGE": self.args.package,
            "PUBSUB_URL": "memory://",
            "WS_MAX_MESSAGE_BYTES": "65536",
            "WS_RATE_LIMIT": "1000000000",  # the publisher floods on purpose
            "MAX_CONNECTIONS": "100000",
            "SSE_PING_SECONDS": "15",
            "LOG_LEVEL": "warning",
        }
        return env | overrides

    def start(self, name: str, app: str, workers: int = 1, **env: str) -> Server:
        port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", app, "--app-dir", str(BENCH),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "--ws", self.ws(app), "--loop", "auto", "--http", "auto",
            "--ws-max-size", "65536", "--ws-ping-interval", "20", "--ws-ping-timeout", "20",
            "--timeout-graceful-shutdown", "3",
        ]  # fmt: skip
        if app.endswith(":create"):
            command.append("--factory")
        process = subprocess.Popen(command, cwd=self.workdir, env=self.env(**env))
        server = Server(name, process, port, workers)
        try:
            wait_http(port, process)
            if workers > 1:
                wait_for(lambda: len(server.pids) == workers, f"{name}: {workers} workers")
        except BaseException:
            server.stop()
            raise
        return server

    def ws(self, app: str) -> str:
        """`--ws` for a server: by default, the app's own protocol where `serve` runs one."""
        if self.args.ws != "serve":
            return str(self.args.ws)
        protocol = f"{self.args.package}.realtime._uvicorn"
        if app.startswith("app:") and importlib.util.find_spec(protocol) is not None:
            return f"{protocol}:RealtimeWebSocketProtocol"
        return "websockets-sansio"  # what `auto` picks

    @contextlib.contextmanager
    def servers(self, *specs: tuple[str, str, int, dict[str, str]]) -> Iterator[list[Server]]:
        started: list[Server] = []
        try:
            for name, app, workers, env in specs:
                started.append(self.start(name, app, workers, **env))
            yield started
        finally:
            for server in started:
                server.stop()

    def pair(self, **baseline: str) -> contextlib.AbstractContextManager[list[Server]]:
        return self.servers(("app", "app:create", 1, {}), ("baseline", "baseline:app", 1, baseline))

    def client(self, kind: str, config: dict[str, Any], timeout: float) -> Any:
        done = subprocess.run(
            [sys.executable, str(BENCH / "clients.py"), kind, json.dumps(config)],
            stdout=subprocess.PIPE, timeout=timeout, check=True, cwd=BENCH,
        )  # fmt: skip
        return json.loads(done.stdout)

    # --- phases ----------------------------------------------------------------------------

    def fanout(self) -> None:
        a = self.args
        for n in a.subscribers:
            with self.pair() as servers:
                runs = self.fanout_runs(servers, n)
            self.results[f"fanout_{n}"] = runs
            print_fanout(
                f"WebSocket fan-out: {n} subscribers, 1 publisher, {a.size}-byte texts, "
                f"{a.seconds:g} s x {a.repeat} rounds (medians)",
                runs, ("app", "baseline"),
            )  # fmt: skip

    def fanout_runs(self, servers: list[Server], n: int, **extra: Any) -> list[dict[str, Any]]:
        a = self.args
        config = {
            "targets": [s.target("ws", "/ws/relay", **extra.get(s.name, {})) for s in servers],
            "n": n, "window": a.window, "size": a.size, "seconds": a.seconds, "repeat": a.repeat,
        }  # fmt: skip
        budget = 60 + len(servers) * a.repeat * (a.seconds + 15)
        runs: list[dict[str, Any]] = self.client("fanout", config, budget)
        return runs

    def burst(self) -> None:
        for n, messages, size in BURSTS:
            self.burst_runs(f"burst_{n}", n, messages, size, stalled=False)

    def stalled(self) -> None:
        n, messages, size = STALLED
        self.burst_runs("stalled", n, messages, size, stalled=True)

    def sse_burst(self) -> None:
        n, messages, size = SSE_BURST
        self.burst_runs("sse_burst", n, messages, size, stalled=False, sse=True)

    def burst_runs(self, key: str, n: int, messages: int, size: int, stalled: bool, sse: bool = False) -> None:
        a = self.args
        # Unbounded queues: what a plain Starlette relay is, unless its author bounded it.
        with self.pair(BASELINE_SEND_QUEUE="0") as servers:
            extra = [{"sse_url": s.url("http", "/sse/follow")} if sse else {} for s in servers]
            config = {
                "targets": [s.target("ws", "/ws/relay", **x) for s, x in zip(servers, extra, strict=True)],
                "n": n, "messages": messages, "size": size, "stalled": stalled,
                "repeat": a.burst_repeat,
            }  # fmt: skip
            budget = 90 + len(servers) * a.burst_repeat * 40
            runs: list[dict[str, Any]] = self.client("burst", config, budget)
        self.results[key] = runs
        stall = " + 1 stalled reader (4 KiB window, never reads)" if stalled else ""
        kind = "SSE streams following the topic" if sse else "subscribers"
        print_burst(
            f"Burst without a window: {n} {kind}{stall}, {messages} messages of {size} B "
            f"sent at once, {a.burst_repeat} rounds (medians; lost and closed are totals)",
            runs,
        )

    def sse(self) -> None:
        a = self.args
        runs: list[dict[str, Any]] = []
        for round_ in range(a.sse_repeat):  # fresh servers each round: memory per stream is first-use memory
            with self.pair() as servers:
                config = {
                    "targets": [s.target("http", "/api/sse") for s in servers],
                    "streams": a.streams, "seconds": a.sse_seconds,
                }  # fmt: skip
                runs += [r | {"round": round_} for r in self.client("sse", config, a.sse_seconds + 90)]
        self.results["sse"] = runs
        print_sse(
            f"SSE: {a.streams} ticker streams (1 event/s) on each server at once, held "
            f"{a.sse_seconds:g} s, {a.sse_repeat} rounds on fresh servers (medians)",
            runs,
        )

    def redis(self) -> None:
        a = self.args
        module = f"{a.package}.realtime.backends.redis"
        if importlib.util.find_spec(module) is None:
            print(f"\nRedis fan-out: SKIPPED, {module} does not exist yet.")
            self.results["redis"] = "skipped: no backend"
            return
        with self.redis_server() as (url, redis_pids):
            n = max(a.subscribers)
            with self.servers(
                ("redis-2w", "app:create", 2, {"PUBSUB_URL": url}),
                ("memory-1w", "app:create", 1, {}),
            ) as servers:
                runs = self.fanout_runs(servers, n, **{"redis-2w": {"aux_pids": redis_pids}})
        self.results["redis"] = runs
        print_fanout(
            f"WebSocket fan-out over Redis: {n} subscribers, 2 workers on {url.split('//')[0]}// "
            f"vs 1 worker on memory://, {a.seconds:g} s x {a.repeat} rounds (medians)",
            runs, ("redis-2w", "memory-1w"),
        )  # fmt: skip

    @contextlib.contextmanager
    def redis_server(self) -> Iterator[tuple[str, list[int]]]:
        if self.args.redis_url:
            yield self.args.redis_url, []
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not on PATH: install it, or pass --redis-url")
        port = free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(lambda: redis_ping(port), f"redis-server on port {port}")
            yield f"redis://127.0.0.1:{port}/0", [process.pid]
        finally:
            process.terminate()
            process.wait(10)

    def churn(self) -> None:
        a = self.args
        with self.pair() as servers:
            runs = [
                self.client(
                    "churn",
                    {
                        "name": s.name,
                        "pids": s.pids,
                        "cycles": a.cycles,
                        "warmup": a.cycles // 5,
                        "ws_url": s.url("ws", "/ws/relay"),
                        "sse_url": s.url("http", "/api/sse"),
                    },
                    300,
                )
                for s in servers
            ]
        self.results["churn"] = runs
        print(f"\nRSS over connect/disconnect churn: {a.cycles} WebSocket + {a.cycles} SSE cycles")
        print_rows(
            ["server", "RSS before", f"after {a.cycles}", f"after {2 * a.cycles}", "growth"],
            [
                [
                    r["target"], mb(r["rss_before_kb"]), mb(r["rss_after_kb"]),
                    mb(r["rss_after_2x_kb"]), mb(r["rss_after_2x_kb"] - r["rss_before_kb"]),
                ]
                for r in runs
            ],
        )  # fmt: skip


SETTINGS = (
    "HOST", "PORT", "PUBSUB_URL", "ALLOWED_ORIGINS", "WS_MAX_MESSAGE_BYTES", "WS_SEND_QUEUE",
    "WS_SEND_BUFFER_BYTES", "WS_RATE_LIMIT", "WS_PING_SECONDS", "MAX_CONNECTIONS",
    "SSE_PING_SECONDS", "LOG_LEVEL", "BASELINE_SEND_QUEUE",
)  # fmt: skip


# --- reporting -----------------------------------------------------------------------------

Measure = Callable[[dict[str, Any]], float]


def compare(runs: list[dict[str, Any]], a: str, b: str, measure: Measure) -> tuple[float, float, float]:
    """Median of each target, and the median of the per-round ratios a/b.

    Rounds of a and b run back to back (or at once), so a round's ratio cancels
    most of what other processes do to the machine; the ratio of medians would not.
    """
    rounds: dict[int, dict[str, float]] = {}
    for run in runs:
        rounds.setdefault(run["round"], {})[run["target"]] = measure(run)
    pairs = [(r[a], r[b]) for r in rounds.values() if a in r and b in r]
    ratios = [x / y for x, y in pairs if y]
    return (
        statistics.median(x for x, _ in pairs),
        statistics.median(y for _, y in pairs),
        statistics.median(ratios) if ratios else float("nan"),
    )


def print_rows(header: list[str], rows: list[list[str]]) -> None:
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  " + "  ".join(cells))


def print_comparison(runs: list[dict[str, Any]], a: str, b: str, measures: list[tuple[str, Measure, str]]) -> None:
    rows = []
    for label, measure, fmt in measures:
        x, y, ratio = compare(runs, a, b, measure)
        rows.append([label, fmt.format(x), fmt.format(y), "-" if ratio != ratio else f"{ratio:.2f}"])
    print_rows(["measure", a, b, f"{a}/{b}"], rows)


def print_fanout(title: str, runs: list[dict[str, Any]], names: tuple[str, str]) -> None:
    a, b = names
    print(f"\n{title}")
    rate: Measure = lambda r: r["deliveries"] / r["seconds"]  # noqa: E731
    measures: list[tuple[str, Measure, str]] = [
        ("deliveries/s", rate, "{:,.0f}"),
        ("server CPU us/delivery", lambda r: 1e6 * r["server_cpu"] / r["deliveries"], "{:.2f}"),
        ("server CPU-s per s", lambda r: r["server_cpu"] / r["seconds"], "{:.2f}"),
        ("client CPU us/delivery", lambda r: 1e6 * r["client_cpu"] / r["deliveries"], "{:.2f}"),
    ]
    print_comparison(runs, a, b, measures)
    for name in names:
        per_round = [r for r in runs if r["target"] == name]
        rates = ", ".join(f"{rate(r) / 1000:.0f}k" for r in per_round)
        aux = [r["aux_cpu"] / r["seconds"] for r in per_round if "aux_cpu" in r]
        extra = f"; redis-server CPU-s per s {statistics.median(aux):.3f}" if aux else ""
        print(f"  {name}: deliveries/s by round {rates}{extra}")


def idle_mb_per_1000(run: dict[str, Any]) -> float:
    """RSS with the subscribers connected and idle, less RSS before, per 1,000 of them."""
    kb: float = (run["rss_idle_kb"] - run["rss_empty_kb"]) / run["subscribers"] * 1000
    return kb / 1024


def print_burst(title: str, runs: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    per_delivery: Measure = lambda r: 1e6 * r["server_cpu"] / r["deliveries"] if r["deliveries"] else math.nan  # noqa: E731
    measures: list[tuple[str, Measure, str]] = [
        ("lost deliveries", lambda r: r["lost"], "{:,.0f}"),
        ("server CPU us/delivery", per_delivery, "{:.2f}"),
        ("server CPU s", lambda r: r["server_cpu"], "{:.2f}"),
        ("server peak RSS, MB", lambda r: r["peak_rss_kb"] / 1024, "{:.1f}"),
        ("burst seconds", lambda r: r["seconds"], "{:.2f}"),
    ]
    if runs[0]["subscribers"] >= 1000:  # fewer peers are lost in the noise of the heap
        measures.append(("idle MB per 1,000 peers", idle_mb_per_1000, "{:.1f}"))
    print_comparison(runs, "app", "baseline", measures)
    for name in ("app", "baseline"):
        mine = [r for r in runs if r["target"] == name]
        expected = sum(r["subscribers"] * r["messages"] for r in mine)
        line = (
            f"  {name}: lost {sum(r['lost'] for r in mine):,} of {expected:,} deliveries, "
            f"{sum(r['disordered'] for r in mine)} out of order, "
            f"{sum(r['closed'] for r in mine)} healthy subscribers closed"
        )
        if any(r["stalled"] for r in mine):
            after = [r["stalled_closed_after"] for r in mine]
            closed = [f"{t:.1f} s" if t is not None else "no" for t in after]
            line += f"; stalled reader closed: {', '.join(closed)}"
        print(line)


def print_sse(title: str, runs: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    measures: list[tuple[str, Measure, str]] = [
        ("CPU-s per 1,000 streams per 10 s",
         lambda r: r["hold_cpu"] * (1000 / r["streams"]) * (10 / r["seconds"]), "{:.2f}"),
        ("KB per stream (RSS held - before)",
         lambda r: (r["rss_held_kb"] - r["rss_before_kb"]) / r["streams"], "{:.1f}"),
        ("connect CPU ms per stream", lambda r: 1000 * r["connect_cpu"] / r["streams"], "{:.2f}"),
        ("events per stream in the hold", lambda r: r["events"] / r["streams"], "{:.1f}"),
        ("RSS before, MB", lambda r: r["rss_before_kb"] / 1024, "{:.1f}"),
        ("RSS after closing all, MB", lambda r: r["rss_closed_kb"] / 1024, "{:.1f}"),
    ]  # fmt: skip
    print_comparison(runs, "app", "baseline", measures)


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


# --- helpers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_http(port: int, process: subprocess.Popen[bytes]) -> None:
    def answers() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/bench-ready")
            connection.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            connection.close()

    wait_for(answers, f"a server on port {port}")


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="realtime_app", help="the baked project's package")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset of %(default)s")
    parser.add_argument("--subscribers", default="100,1000", help="fan-out sizes (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per measure (medians reported)")
    parser.add_argument("--seconds", type=float, default=3, help="length of one fan-out round")
    parser.add_argument("--window", type=int, default=128, help="fan-out messages in flight")
    parser.add_argument("--size", type=int, default=64, help="fan-out message size in bytes")
    parser.add_argument("--burst-repeat", type=int, default=2, help="rounds per burst phase")
    parser.add_argument("--streams", type=int, default=1000, help="SSE streams per server")
    parser.add_argument("--sse-seconds", type=float, default=10, help="how long the streams are held")
    parser.add_argument("--sse-repeat", type=int, default=3, help="SSE rounds, each on fresh servers")
    parser.add_argument("--cycles", type=int, default=1000, help="connect/disconnect cycles per kind")
    parser.add_argument(
        "--ws",
        default="serve",
        help="uvicorn --ws for every server; `serve` (default): the app's own protocol, as "
        "`python -m <package> serve` runs it when realtime/_uvicorn.py exists, else websockets-sansio",
    )
    parser.add_argument("--redis-url", help="use this Redis instead of starting redis-server")
    parser.add_argument("--json", type=Path, help="also write every raw measurement here")
    args = parser.parse_args()
    args.subscribers = [int(n) for n in args.subscribers.split(",")]
    phases = args.phases.split(",")
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phase(s) {sorted(unknown)}")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers inherit it

    started = time.perf_counter()
    ws = "as serve runs it" if args.ws == "serve" else args.ws
    print(f"{args.package}: uvicorn --ws {ws}, 1 worker, log-level warning; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="realtime-bench-") as workdir:
        bench = Bench(args, Path(workdir))
        for phase in PHASES:
            if phase in phases:
                getattr(bench, phase)()
    elapsed = time.perf_counter() - started
    print(f"\ntotal {elapsed:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(bench.results | {"seconds": elapsed}, indent=1))


if __name__ == "__main__":
    main()
