"""Every combination of options bakes a complete project that holds exactly its options' files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment

from conftest import (
    COMBINATIONS,
    OWNED,
    PUBSUB_URLS,
    TEMPLATE,
    TEMPLATE_PROJECT,
    Bake,
    combination,
    in_template,
    leftover_jinja,
)

PACKAGE = "realtime_app"
# What a check may add to a shared bake: what the project's .gitignore covers.
GENERATED = re.compile(r"(^|/)(\.venv|__pycache__|\.mypy_cache|\.ruff_cache|\.pytest_cache|\.hypothesis)(/|$)")


def files(root: Path, package_folder: str = PACKAGE) -> set[str]:
    """Every file under root, as a baked project names it."""
    found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}
    return {path.replace(package_folder, PACKAGE) for path in found if not GENERATED.search(path)}


def expected_files(examples: bool, demo_page: bool) -> set[str]:
    """The template's files, less those of the options turned off (by the tests' own list)."""
    removed = [
        path.format(package=PACKAGE)
        for option, enabled in (("include_examples", examples), ("include_demo_page", demo_page))
        if not enabled
        for path in OWNED[option]
    ]
    return {
        path
        for path in files(TEMPLATE_PROJECT, "{{cookiecutter.package_name}}")
        if not any(path == owned or path.startswith(owned + "/") for owned in removed)
    }


def test_defaults(bake: Bake, capfd: pytest.CaptureFixture[str]) -> None:
    project = bake()
    assert project.name == "realtime-app"
    assert (project / "src" / PACKAGE).is_dir()
    assert "PUBSUB_URL=memory://" in (project / ".env.example").read_text(encoding="utf-8").splitlines()
    out = capfd.readouterr().out
    assert "cd realtime-app" in out
    assert "make dev" in out
    assert "make test" in out


@pytest.mark.parametrize("path", [p for paths in OWNED.values() for p in paths])
def test_owned_path_is_in_the_template(path: str) -> None:
    assert in_template(path), f"the tests' OWNED lists {path}, which the template no longer has"


@pytest.mark.parametrize(("backend", "examples", "demo_page"), COMBINATIONS)
def test_combination_holds_exactly_its_files(baked: Bake, backend: str, examples: bool, demo_page: bool) -> None:
    project = baked(**combination(backend, examples, demo_page))

    assert leftover_jinja(project) == []
    env_example = (project / ".env.example").read_text(encoding="utf-8").splitlines()
    assert f"PUBSUB_URL={PUBSUB_URLS[backend]}" in env_example

    have, want = files(project), expected_files(examples, demo_page)
    assert sorted(want - have) == [], "removed by the hook, yet not owned by these options in tests/conftest.py"
    assert sorted(have - want) == [], "left by the hook, yet owned by an option turned off"

    routes = project / "src" / PACKAGE / "routes"
    empty = [str(p.relative_to(project)) for p in routes.rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert empty == []


def test_next_steps_line_up(bake: Bake, capfd: pytest.CaptureFixture[str]) -> None:
    bake(project_slug="a-rather-long-project-folder-name-past-thirty-characters")
    steps = [line for line in capfd.readouterr().out.splitlines() if "#" in line]
    assert len(steps) >= 2, steps
    assert len({line.index("#") for line in steps}) == 1, "\n".join(steps)


def rendered_hook(answers: dict[str, object]) -> str:
    text = (TEMPLATE / "hooks" / "post_gen_project.py").read_text(encoding="utf-8")
    return StrictEnvironment(context={"cookiecutter": answers}).from_string(text).render(cookiecutter=answers)


def test_post_gen_hook_is_safe_to_run_again(bake: Bake, tmp_path: Path) -> None:
    """cruft update re-runs it; a second run changes nothing, makes no repository, needs no network."""
    project = bake(include_examples=False, include_demo_page=False)
    answers = {"project_slug": project.name, "package_name": PACKAGE, "port": 8000}
    hook = tmp_path / "post_gen_project.py"
    hook.write_text(rendered_hook({**answers, "include_examples": False, "include_demo_page": False}))
    before = files(project)
    proc = subprocess.run([sys.executable, str(hook)], cwd=project, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert files(project) == before
    assert not (project / ".git").exists()
