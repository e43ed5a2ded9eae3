"""Shared helpers: bake the template into a temporary folder and run baked projects' commands."""

from __future__ import annotations

import ast
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


def _hook_owned() -> dict[str, tuple[str, ...]]:
    """The post-gen hook's one list of which paths each option owns, read from its source."""
    tree = ast.parse((TEMPLATE / "hooks" / "post_gen_project.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "OWNED":
            assert node.value is not None
            owned: dict[str, tuple[str, ...]] = ast.literal_eval(node.value)
            return owned
    raise LookupError("hooks/post_gen_project.py defines no OWNED")


# Each option and the paths it owns in a baked project (the contract the post-gen hook keeps).
OWNED = _hook_owned()
# Of those, the ones the contract says every project with the option has.
REQUIRED: frozenset[str] = frozenset(
    {"src/{package}/routes/api/ws/chat.py", "src/{package}/routes/api/sse.py", "src/{package}/static"}
)
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


@pytest.fixture
def bake(tmp_path: Path, cookiecutter_config: Path) -> Bake:
    """Bake the working tree with the given answers; return the project folder."""

    def bake(output_dir: Path | None = None, **answers: Any) -> Path:
        out = output_dir or tmp_path / "out"
        out.mkdir(parents=True, exist_ok=True)
        project = cookiecutter(
            str(TEMPLATE),
            no_input=True,
            extra_context=answers,
            output_dir=str(out),
            config_file=str(cookiecutter_config),
        )
        return Path(project)

    return bake


def in_template(path: str) -> bool:
    """Whether the template (as it stands) has this owned path at all."""
    return (TEMPLATE_PROJECT / path.format(package="{{cookiecutter.package_name}}")).exists()


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


def _has_uv(folder: str) -> bool:
    return bool(folder) and os.access(Path(folder, "uv"), os.X_OK)


@pytest.fixture(scope="session")
def make_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment for a baked project's `make`: the caller's, less this test run's traces.

    The template's own venv leaves PATH (a baked project must make its own),
    but its uv stays reachable through a folder that holds nothing else.
    REALTIME_REQUIRE_REDIS and REALTIME_REQUIRE_BROWSER pass through.
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
