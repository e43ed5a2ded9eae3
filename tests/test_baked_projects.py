"""Each baked project passes its own `make test` and `make lint` (slow: each makes a venv)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import COMBINATIONS, Bake, run

pytestmark = pytest.mark.bake


@pytest.mark.parametrize(("backend", "examples", "demo_page"), COMBINATIONS)
def test_make_test_and_lint(
    bake: Bake, make_env: dict[str, str], backend: str, examples: bool, demo_page: bool
) -> None:
    project = bake(pubsub_backend=backend, include_examples=examples, include_demo_page=demo_page)
    run(["make", "test"], cwd=project, env=make_env)
    run(["make", "lint"], cwd=project, env=make_env)


def test_make_install_without_uv(bake: Bake, make_env_without_uv: dict[str, str]) -> None:
    assert shutil.which("uv", path=make_env_without_uv["PATH"]) is None
    project = bake()
    run(["make", "install"], cwd=project, env=make_env_without_uv)
    python = Path(project, ".venv", "bin", "python")
    run([str(python), "-c", "import realtime_app"], cwd=project, env=make_env_without_uv)
