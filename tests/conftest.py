"""Shared helpers: bake the template into a temporary folder and run baked projects' commands."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
TEMPLATE_PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"
LEFTOVER_JINJA = re.compile(r"\{\{-?\s*cookiecutter\.|\{%")


# Each option and the paths it owns in a baked project, removed when it is false. The
# post-gen hook keeps its own list: this one is the tests' independent copy, so a path
# the hook forgets (or removes wrongly) fails test_post_gen_project.
OWNED: dict[str, tuple[str, ...]] = {
    "include_examples": (
        "src/{package}/routes/api/ws/chat.py",
        "src/{package}/routes/api/sse.py",
        "src/{package}/routes/api/chat",
        "src/{package}/routes/api/ws/rooms",
        "src/{package}/routes/api/rooms",
        "tests/test_chat.py",
        "tests/test_ticker.py",
        "tests/test_feed.py",
        "tests/test_chat_properties.py",
        "tests/test_asyncapi_samples.py",
        "tests/test_rooms.py",
    ),
    "include_demo_page": (
        "src/{package}/static",
        "tests/test_demo_page.py",
    ),
}
PUBSUB_URLS = {"memory": "memory://", "redis": "redis://127.0.0.1:6379/0"}
# Every (pubsub_backend, include_examples, include_demo_page).
COMBINATIONS = list(itertools.product(PUBSUB_URLS, (True, False), (True, False)))

Bake = Callable[..., Path]


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config that keeps cookiecutter's clones and replay files out of the home folder."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    config.write_text(
        f'cookiecutters_dir: "{home / "cookiecutters"}"\nreplay_dir: "{home / "replay"}"\n',
        encoding="utf-8",
    )
    return config


@pytest.fixture
def cookiecutter_cli(cookiecutter_config: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the cookiecutter command line with the test config; return what it printed."""

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cookiecutter", *args, "--config-file", str(cookiecutter_config)],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return cli


def bake_into(out: Path, answers: dict[str, Any], config_file: Path) -> Path:
    """Bake the working tree with `answers`, without prompts, into `out`."""
    project = cookiecutter(
        str(TEMPLATE),
        no_input=True,
        extra_context=answers,
        output_dir=str(out),
        config_file=str(config_file),
    )
    return Path(project)


@pytest.fixture
def bake(tmp_path: Path, cookiecutter_config: Path) -> Bake:
    """Bake the working tree with the given answers; return the project folder."""

    def bake(output_dir: Path | None = None, **answers: Any) -> Path:
        out = output_dir or tmp_path / "out"
        out.mkdir(parents=True, exist_ok=True)
        return bake_into(out, answers, cookiecutter_config)

    return bake


def in_template(path: str) -> bool:
    """Whether the template has this owned path."""
    return (TEMPLATE_PROJECT / path.format(package="{{cookiecutter.package_name}}")).exists()


@pytest.fixture(scope="session")
def baked(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: Path) -> Bake:
    """Bake once per set of answers in this test session; checks share the result.

    A check may add what the project's .gitignore covers (`make test` makes .venv), nothing else.
    """
    projects: dict[tuple[tuple[str, str], ...], Path] = {}

    def bake(**answers: Any) -> Path:
        key = tuple(sorted((name, str(value)) for name, value in answers.items()))
        if key not in projects:
            out = tmp_path_factory.mktemp("baked")
            projects[key] = bake_into(out, answers, cookiecutter_config)
        return projects[key]

    return bake


def combination(backend: str, examples: bool, demo_page: bool) -> dict[str, Any]:
    return {"pubsub_backend": backend, "include_examples": examples, "include_demo_page": demo_page}


def leftover_jinja(project: Path) -> list[str]:
    """Files whose name or text still holds cookiecutter's Jinja."""
    found = []
    for path in project.rglob("*"):
        if ".venv" in path.parts:
            continue
        if LEFTOVER_JINJA.search(path.name):
            found.append(f"{path.relative_to(project)} (name)")
        elif path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            if LEFTOVER_JINJA.search(text):
                found.append(str(path.relative_to(project)))
    return found


NOT_TEMPLATE = shutil.ignore_patterns(".git", ".venv", "build", "test-output", "__pycache__", ".*_cache")


def git(*args: str, cwd: Path) -> str:
    """Run git as a test user; return what it printed."""
    return subprocess.run(
        ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def template_repo(work: Path) -> Path:
    """A git repository at work of the template's working tree as it is now, committed or not."""
    shutil.copytree(TEMPLATE, work, ignore=NOT_TEMPLATE)
    git("init", "--quiet", cwd=work)
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "--message", "template", cwd=work)
    return work


def _has_uv(folder: str) -> bool:
    return bool(folder) and os.access(Path(folder, "uv"), os.X_OK)


@pytest.fixture(scope="session")
def make_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment for a baked project's `make`: the caller's, less this test run's traces.

    The template's own venv leaves PATH (a baked project must make its own),
    but its uv stays reachable through a folder that holds nothing else.
    REALTIME_REQUIRE_REDIS, _BROWSER and _NODE pass through.
    """
    own_bin = os.path.realpath(Path(sys.prefix) / "bin") if sys.prefix != sys.base_prefix else ""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != own_bin]
    uv = shutil.which("uv", path=os.pathsep.join([own_bin, *path]))
    if uv is not None:
        tools = tmp_path_factory.mktemp("tools")
        (tools / "uv").symlink_to(uv)
        path.insert(0, str(tools))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "MAKE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "COV_"))
        and key not in {"MFLAGS", "PYTHONSTARTUP"}
    }
    env["PATH"] = os.pathsep.join(path)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return env


@pytest.fixture(scope="session")
def make_env_without_uv(make_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """As make_env, with no uv anywhere on PATH: the plain venv + pip route."""
    tools = tmp_path_factory.mktemp("tools-no-uv")
    (tools / "python3").symlink_to(Path(getattr(sys, "_base_executable", sys.executable)).resolve())
    path = [p for p in make_env["PATH"].split(os.pathsep) if not _has_uv(p)]
    return {**make_env, "PATH": os.pathsep.join([str(tools), *path])}


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> None:
    """Run a command; on failure show its output."""
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else exc.output or ""
        pytest.fail(f"`{' '.join(args)}` in {cwd} timed out after {timeout}s:\n{output[-20000:]}")
    if proc.returncode != 0:
        pytest.fail(f"`{' '.join(args)}` in {cwd} exited {proc.returncode}:\n{proc.stdout[-20000:]}")
