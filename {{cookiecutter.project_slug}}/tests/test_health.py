"""GET /healthz: 200 while the process serves, 503 naming the pub/sub backend while it is away."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.realtime import RouteError

from .conftest import START_TIMEOUT, RedisServer, Server, ServerFactory, make_settings

# A closed Redis link is seen at once; a new one within the subscriber's 2 s backoff.
TIMEOUT = 10.0
OK = "def handler() -> None:\n    return None\n"


def health(server: Server) -> httpx.Response:
    return httpx.get(f"{server.url}/healthz", timeout=TIMEOUT)


def wait_for_health(server: Server, status: int) -> httpx.Response:
    deadline = time.monotonic() + TIMEOUT
    while (response := health(server)).status_code != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz stayed {response.status_code}: {response.text}")
        time.sleep(0.05)  # the server's Redis link changes with no event a client can await
    return response


def test_healthz_is_200_on_memory(live_server: Server) -> None:
    response = health(live_server)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.redis
def test_healthz_is_503_naming_redis_while_it_is_down_then_200_again(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    env = {"PUBSUB_URL": redis_server.url, "PUBSUB_PREFIX": f"test-{uuid.uuid4().hex[:8]}:"}
    server = server_factory(env=env)
    assert health(server).status_code == 200

    redis_server.stop()
    reason = f"pub/sub backend redis://127.0.0.1:{redis_server.port} (PUBSUB_URL) is unreachable"
    assert wait_for_health(server, 503).json() == {"status": "unavailable", "reason": reason}

    redis_server.start()
    assert wait_for_health(server, 200).json() == {"status": "ok"}


def test_healthz_reason_never_shows_the_password() -> None:
    # Outside its lifespan the hub never connected: the backend is unreachable.
    app = create_app(make_settings(pubsub_url="redis://app:hunter2@127.0.0.1:1/0"))
    response = TestClient(app).get("/healthz")
    assert response.status_code == 503
    assert (
        response.json()["reason"]
        == "pub/sub backend redis://127.0.0.1:1 (PUBSUB_URL) is unreachable"
    )


@pytest.mark.parametrize("file", ["healthz.py", "healthz.get.py", "(ops)/healthz/index.py"])
def test_route_file_at_healthz_is_an_error_naming_both(tmp_path: Path, file: str) -> None:
    (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / file).write_text(OK)
    message = rf"routes/{re.escape(file)} claims /healthz, which the app serves itself \(healthz\)"
    with pytest.raises(RouteError, match=message):
        create_app(make_settings(), routes=tmp_path)


def test_serve_refuses_a_route_file_at_healthz(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "healthz.py").write_text(OK)
    server = server_factory(routes=tree, wait=False)
    assert server.process.wait(START_TIMEOUT) == 1
    assert "error: routes/healthz.py claims /healthz" in server.output()
