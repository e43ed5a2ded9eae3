"""The README's code works as shown: its snippets lint and run, its first deploy command starts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx_sse import EventSource

from {{ cookiecutter.package_name }}.app import create_app

from .conftest import PACKAGE, RECEIVE_TIMEOUT, ServerFactory, make_settings, within

PROJECT = Path(__file__).parent.parent
README = (PROJECT / "README.md").read_text()
# Each Python snippet starts by naming its file: `# routes/api/hello.get.py: ...`.
SNIPPET = re.compile(r"```python\n# routes/(?P<file>\S+): .*?\n```", re.S)


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's snippets, each in the file it names, as a route tree."""
    assert README.count("```python") == len(SNIPPET.findall(README)), "a snippet names no file"
    routes = tmp_path_factory.mktemp("readme") / "routes"
    for match in SNIPPET.finditer(README):
        file = routes / match["file"]
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(match[0].removeprefix("```python\n").removesuffix("```"))
    return routes


def tool(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=PROJECT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_the_readme_snippets_pass_make_lint(snippets: Path) -> None:
    config = str(PROJECT / "pyproject.toml")
    tool("ruff", "check", "--config", config, str(snippets))
    tool("ruff", "format", "--check", "--config", config, str(snippets))
    cache = str(snippets.parent / ".mypy_cache")
    tool("mypy", "--config-file", config, "--cache-dir", cache, str(snippets))


def test_the_readme_snippets_run(snippets: Path) -> None:
    with TestClient(create_app(make_settings(), routes=snippets)) as client:
        assert client.get("/api/hello").json() == {"hello": "world"}
        with client.websocket_connect("/api/ws/echo") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "hi"
        with client.stream("GET", "/api/clock?interval=0.1") as response:
            tick = within(RECEIVE_TIMEOUT, next, EventSource(response).iter_sse())
        assert tick.event == "tick" and set(json.loads(tick.data)) == {"time"}
        with client.stream("GET", "/api/chat/events") as response:
            ready = within(RECEIVE_TIMEOUT, next, EventSource(response).iter_sse())
        assert (ready.event, ready.data) == ("ready", "hello")


def test_the_first_deploy_command_starts_with_the_default_settings(
    server_factory: ServerFactory,
) -> None:
    deploy = README[README.index("## Deploy") :]
    shown = re.search(rf"`python -m {PACKAGE} serve([^`]*)`", deploy)
    assert shown is not None
    server_factory(*shown[1].split(), env={"PUBSUB_URL": "memory://"})  # fails if it exits
