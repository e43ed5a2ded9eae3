"""A project made with cruft takes a later change of the template with `cruft update`.

cruft clones the template with git, which knows no `git+file://` scheme: it takes
a path to a git repository (bare or not) or a `file://` URL, besides `gh:` and https.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, template_repo

CRUFT = Path(sys.executable).parent / "cruft"
ADDED = "# Added to the template after the project was made.\n"


@pytest.fixture
def cruft_env(tmp_path: Path) -> dict[str, str]:
    """A home of the test's own, so no user config or replay file is read or written."""
    home = tmp_path / "home"
    home.mkdir()
    return {**os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": os.devnull}


def cruft(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(CRUFT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"`cruft {' '.join(args)}` exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc


@pytest.mark.parametrize("form", ["path", "file URL"])
def test_cruft_create_then_update_takes_the_template_change(
    tmp_path: Path, cruft_env: dict[str, str], form: str
) -> None:
    template = template_repo(tmp_path / "template")
    if form != "path":
        git("clone", "--quiet", "--bare", str(template), str(tmp_path / "template.git"), cwd=tmp_path)
    source = str(template) if form == "path" else f"file://{tmp_path / 'template.git'}"
    out = tmp_path / "out"
    out.mkdir()
    cruft(
        "create",
        "--no-input",
        "--output-dir",
        str(out),
        source,
        "--extra-context",
        '{"include_demo_page": false}',
        cwd=out,
        env=cruft_env,
    )
    project = out / "realtime-app"
    recorded = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert recorded["context"]["cookiecutter"]["include_demo_page"] is False

    # The user commits the project and edits it.
    git("init", "--quiet", cwd=project)
    (project / "README.md").write_text((project / "README.md").read_text(encoding="utf-8") + "\nOur notes.\n")
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "project", cwd=project)

    # The template moves on: a line in a file the user did not touch, and one in a file they did.
    work = template if form == "path" else tmp_path / "template-work"
    if form != "path":
        git("clone", "--quiet", str(tmp_path / "template.git"), str(work), cwd=tmp_path)
    env_example = work / "{{cookiecutter.project_slug}}" / ".env.example"
    env_example.write_text(env_example.read_text(encoding="utf-8") + ADDED)
    readme = work / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(ADDED + readme.read_text(encoding="utf-8"))
    git("commit", "--quiet", "--all", "--message", "template change", cwd=work)
    if form != "path":
        git("push", "--quiet", "origin", "HEAD", cwd=work)

    cruft("update", "--skip-apply-ask", cwd=project, env=cruft_env)

    assert (project / ".env.example").read_text(encoding="utf-8").endswith(ADDED)
    readme_now = (project / "README.md").read_text(encoding="utf-8")
    assert readme_now.startswith(ADDED) and readme_now.endswith("\nOur notes.\n")
    assert sorted(p.name for p in project.rglob("*.rej")) == []
    assert not (project / "src" / "realtime_app" / "static").exists(), "the update brought back a removed option"
    cruft("check", cwd=project, env=cruft_env)


def test_cruft_create_takes_a_bare_repository_path_but_not_git_plus_file(
    tmp_path: Path, cruft_env: dict[str, str]
) -> None:
    bare = tmp_path / "template.git"
    git("clone", "--quiet", "--bare", str(template_repo(tmp_path / "template")), str(bare), cwd=tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    cruft("create", "--no-input", str(bare), cwd=out, env=cruft_env)
    git("init", "--quiet", cwd=out / "realtime-app")
    cruft("check", cwd=out / "realtime-app", env=cruft_env)

    refused = subprocess.run(
        [str(CRUFT), "create", "--no-input", f"git+file://{bare}"],
        cwd=tmp_path, env=cruft_env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "remote-git+file" in refused.stdout + refused.stderr, "the README says cruft cannot clone git+file://"
