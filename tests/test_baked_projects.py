"""Each baked project passes its own `make test` and `make lint` (slow: each makes a venv)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import COMBINATIONS, Bake, combination, run

pytestmark = pytest.mark.bake

# Quotes, an apostrophe, a backslash, braces, an emoji and more than 60 characters (so a
# 71-character folder and distribution name, and a package name cut to 30): answers that
# once broke settings.py, pyproject.toml, the README or the import lines survive a whole run.
ODD_NAME = 'Zo\u00eb\'s "Real-time" {Chat} \\ for the \u2603 team \U0001f680 with a name well past sixty characters'
ODD_PACKAGE = "zoes_real_time_chat_for_the_te"
ODD_COMBINATION = ("redis", True, True)


@pytest.mark.parametrize(("backend", "examples", "demo_page"), COMBINATIONS)
def test_make_test_and_lint(
    baked: Bake, make_env: dict[str, str], backend: str, examples: bool, demo_page: bool
) -> None:
    answers = combination(backend, examples, demo_page)
    if (backend, examples, demo_page) == ODD_COMBINATION:
        # This combination's run doubles as the odd name's, so it costs no extra venv.
        answers["project_name"] = ODD_NAME
    project = baked(**answers)
    run(["make", "test"], cwd=project, env=make_env)
    run(["make", "lint"], cwd=project, env=make_env)
    if "project_name" in answers:
        assert project.name == "zoes-real-time-chat-for-the-team-with-a-name-well-past-sixty-characters"
        show = f"from {ODD_PACKAGE}.settings import Settings; print(Settings(_env_file=None).app_name)"
        python = str(project / ".venv" / "bin" / "python")
        shown = subprocess.run([python, "-c", show], cwd=project, capture_output=True, text=True, timeout=60)
        assert shown.stdout.removesuffix("\n") == ODD_NAME, shown.stderr


def test_the_odd_name_passes_ruff_in_seconds(bake: Bake) -> None:
    # The slow run above finds this too, half an hour in; a line that a 30-character package
    # name pushes past ruff's limit is found here without a venv, by the template's own ruff.
    project = bake(**combination(*ODD_COMBINATION), project_name=ODD_NAME)
    ruff = shutil.which("ruff")
    assert ruff is not None, "the template's .venv has ruff (make install)"
    for check in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        proc = subprocess.run([ruff, *check], cwd=project, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_make_install_without_uv(bake: Bake, make_env_without_uv: dict[str, str]) -> None:
    assert shutil.which("uv", path=make_env_without_uv["PATH"]) is None
    project = bake()
    run(["make", "install"], cwd=project, env=make_env_without_uv)
    python = Path(project, ".venv", "bin", "python")
    run([str(python), "-c", "import realtime_app"], cwd=project, env=make_env_without_uv)
