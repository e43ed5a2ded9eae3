"""`serve --reload` (make dev) picks up route files, and open streams do not hold it up."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from {{ cookiecutter.package_name }}.app import ROUTES

from .conftest import ServerFactory

pytestmark = pytest.mark.timeout(60)
PROBES = {
    "zz_probe.py": "def handler() -> str:\n    return 'v1'\n",
    "zz_probe_ws.py": (
        "from {{ cookiecutter.package_name }}.realtime import define_websocket_handler\n"
        "handler = define_websocket_handler()\n"
    ),
    "zz_probe_sse.py": (
        "import asyncio\n"
        "async def handler():\n"
        "    yield 'open'\n"
        "    await asyncio.sleep(3600)\n"
        "    yield 'never'\n"
    ),
}


@pytest.fixture
def probes() -> Iterator[Path]:
    """Route files added to the app's own routes/, removed whatever happens."""
    directory = ROUTES
    try:
        yield directory
    finally:
        for name in PROBES:
            (directory / name).unlink(missing_ok=True)


def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll: a reload has no event a client could wait on."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def answers(http: httpx.Client, expected: str | int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            response = http.get("/zz_probe")
        except httpx.TransportError:
            return False  # restarting
        if isinstance(expected, int):
            return response.status_code == expected
        return response.status_code == 200 and response.json() == expected

    return check


def test_routes_are_added_changed_and_removed_live(
    server_factory: ServerFactory, probes: Path
) -> None:
    server = server_factory("--reload")
    with httpx.Client(base_url=server.url, timeout=5) as http:
        for name, source in PROBES.items():
            (probes / name).write_text(source)
        until(answers(http, "v1"))

        with (
            connect(server.ws_url + "/zz_probe_ws", open_timeout=5) as ws,
            connect_sse(http, "GET", "/zz_probe_sse") as sse,
        ):
            events = sse.iter_sse()
            assert next(events).data == "open"
            started = time.monotonic()
            (probes / "zz_probe.py").write_text(PROBES["zz_probe.py"].replace("v1", "v2"))
            # The reload ends open connections at once instead of waiting on them.
            assert list(events) == []
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            until(answers(http, "v2"))
            assert time.monotonic() - started < 10

        (probes / "zz_probe.py").unlink()
        until(answers(http, 404))
