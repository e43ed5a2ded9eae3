"""Fixtures: an in-process app, real uvicorn servers on free ports, and Redis."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.types import Message

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

PACKAGE = "{{ cookiecutter.package_name }}"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
START_TIMEOUT = 20.0
# How long one TestClient receive may wait: well below the tests' own pytest timeouts.
RECEIVE_TIMEOUT = 5.0
T = TypeVar("T")
# Every server runs `serve` through this: uvicorn serves the socket the test bound for it
# (its fd in argv[1]) rather than binding the port itself, so that between picking a free
# port and listening on it no other server (of a parallel test run, say) can take it.
SERVE_ON_FD = (
    "import sys, uvicorn; run_on_fd, fd = uvicorn.run, int(sys.argv.pop(1)); "
    "uvicorn.run = lambda *args, **kwargs: run_on_fd(*args, **{**kwargs, 'fd': fd}); "
)
SERVE = f"import sys; from {PACKAGE}.__main__ import main; sys.exit(main())"
# Before SERVE: a fixture route tree (argv[1]) in place of the package's routes.
WITH_TREE = (
    f"import functools, pathlib, sys; import {PACKAGE}.app as app; "
    "app.create_app = functools.partial(app.create_app, routes=pathlib.Path(sys.argv.pop(1))); "
)
# Before SERVE: one of uvicorn's own WebSocket implementations (argv[1]) instead of the
# app's protocol, so that peers take the plain ASGI path.
WITH_WS = (
    "import sys, uvicorn; run_with_ws, ws = uvicorn.run, sys.argv.pop(1); "
    "uvicorn.run = lambda *args, **kwargs: run_with_ws(*args, **{**kwargs, 'ws': ws}); "
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_settings(**overrides: object) -> Settings:
    """Settings that ignore the developer's `.env`."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def route_module(file: Path) -> ModuleType:
    """The module that a route file was last loaded as."""
    modules = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None)]
    return next(m for m in reversed(modules) if Path(m.__file__ or "").resolve() == file.resolve())


def within(seconds: float, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)`, or a failed assertion if it has not returned after `seconds`.

    For blocking reads that take no timeout of their own (TestClient's WebSocket
    receive, `next()` on its SSE events): a hang fails the test with a message
    instead of ending in pytest-timeout's stack dump. The call runs in a thread of
    its own, left behind on a timeout; it ends when the client closes.
    """
    outcome: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call(*args)))
        except BaseException as exc:  # handed to the caller, not to threading's excepthook
            outcome.append((False, exc))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    if not done.wait(seconds):
        raise AssertionError(f"{getattr(call, '__qualname__', call)} got nothing in {seconds}s")
    ok, value = outcome[0]
    if not ok:
        raise value
    result: T = value
    return result


@pytest.fixture(autouse=True)
def receives_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every TestClient WebSocket receive (`receive_text`, `receive_json`...) waits RECEIVE_TIMEOUT at most."""
    receive = WebSocketTestSession.receive

    def timed_receive(session: WebSocketTestSession) -> Message:
        return within(RECEIVE_TIMEOUT, receive, session)

    monkeypatch.setattr(WebSocketTestSession, "receive", timed_receive)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@dataclass
class Server:
    """A real uvicorn process, started with `python -m <package> serve`."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the server and wait for it to exit; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


ServerFactory = Callable[..., Server]


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet: there is no event to wait on
    raise TimeoutError(f"server did not listen on {port} in {START_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers with extra environment and flags; all are stopped afterwards.

    Each runs `serve` after the Python statements of `prelude`. `routes=` serves a fixture
    route tree instead of the package's routes, with the CLI's settings; `ws=` (with
    `routes=`) names the uvicorn WebSocket implementation to use instead of the app's.
    """
    servers: list[Server] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        wait: bool = True,
        routes: Path | None = None,
        prelude: str = "",
        ws: str | None = None,
    ) -> Server:
        # Bound, not listening: connections are refused until uvicorn listens on it.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        log = tmp_path / f"server-{port}.log"
        full_env = {**os.environ, "PUBSUB_URL": "memory://", **(env or {})}
        code, argv = prelude + SERVE_ON_FD, [str(sock.fileno())]
        if ws is not None:
            assert routes is not None, "ws= needs routes="
            code, argv = code + WITH_WS, [*argv, ws]
        if routes is not None:
            code, argv = code + WITH_TREE, [*argv, str(routes)]
        command = [sys.executable, "-c", code + SERVE, *argv, "serve", "--host", "127.0.0.1"]
        with sock, log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "--port", str(port), *args],
                cwd=tmp_path,  # away from the project's .env
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=[sock.fileno()],
            )
        server = Server(process, port, log)
        servers.append(server)
        if wait:
            wait_for_port(port, process, log)
        return server

    yield start
    for server in servers:
        # SIGTERM first: a killed `--workers` parent would leave its workers behind.
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.stop()


@pytest.fixture
def live_server(server_factory: ServerFactory) -> Server:
    return server_factory()


def redis_available(url: str = REDIS_URL) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def skip_without_redis(message: str) -> None:
    if os.environ.get("REALTIME_REQUIRE_REDIS") == "1":
        pytest.fail(f"{message}, and REALTIME_REQUIRE_REDIS=1")
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    """The test Redis; skipped when absent unless REALTIME_REQUIRE_REDIS=1."""
    if not redis_available():
        skip_without_redis(f"no Redis at {REDIS_URL}")
    return REDIS_URL


class PortTaken(RuntimeError):
    """A private redis-server could not have the port it was given."""


@dataclass
class RedisServer:
    """A private redis-server on a free port, for tests that stop and restart it."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        options = ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        with (self.folder / "redis.log").open("ab") as out:
            self.process = subprocess.Popen([*command, *options], stdout=out, stderr=out)
        deadline = time.monotonic() + START_TIMEOUT
        while not redis_available(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise PortTaken(f"redis-server did not start on {self.port}")
            time.sleep(0.05)  # polling a port that is not open yet: there is no event to wait on
        # The port was free when picked; another test's redis-server may have won it since.
        import redis

        with redis.Redis.from_url(self.url) as client:
            pid = client.info("server")["process_id"]
        if pid != self.process.pid:
            self.stop()
            raise PortTaken(f"port {self.port} is another redis-server's (pid {pid})")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own; skipped without one unless REALTIME_REQUIRE_REDIS=1."""
    if shutil.which("redis-server") is None:
        skip_without_redis("no redis-server on PATH")
    for attempt in range(3):
        server = RedisServer(free_port(), tmp_path)
        try:
            server.start()
            break
        except PortTaken:
            if attempt == 2:
                raise
    yield server
    server.stop()
