"""The template bakes from a checkout and from a git repository, through the command line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import TEMPLATE, git, template_repo

Cli = Callable[..., subprocess.CompletedProcess[str]]


def bare_clone(tmp_path: Path) -> str:
    """A bare git repository of the working tree as it is now, committed or not."""
    work = template_repo(tmp_path / "work")
    git("clone", "--quiet", "--bare", str(work), str(tmp_path / "template.git"), cwd=tmp_path)
    return f"git+file://{tmp_path / 'template.git'}"


@pytest.mark.parametrize("source", ["checkout", "git+file"])
def test_cli_bakes(source: str, tmp_path: Path, cookiecutter_cli: Cli) -> None:
    template = bare_clone(tmp_path) if source == "git+file" else str(TEMPLATE)
    out = tmp_path / "out"
    proc = cookiecutter_cli(
        template, "--no-input", "--output-dir", str(out), "project_name=My Chat", "include_demo_page=no"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    project = out / "my-chat"
    assert (project / "src" / "my_chat").is_dir()
    assert not (project / "src" / "my_chat" / "static").exists()
    assert "    cd my-chat\n" in proc.stdout


def test_cli_refuses_bad_answer(tmp_path: Path, cookiecutter_cli: Cli) -> None:
    out = tmp_path / "out"
    proc = cookiecutter_cli(str(TEMPLATE), "--no-input", "--output-dir", str(out), "package_name=json")
    assert proc.returncode != 0
    # cookiecutter logs its own traceback to stdout; the hook's one line is all of stderr.
    assert proc.stderr.strip() == "ERROR: package_name 'json' shadows a standard-library module"
    assert not out.exists() or list(out.iterdir()) == []
