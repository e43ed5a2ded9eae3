"""Answers full of quotes, backslashes, braces, unicode or code survive as text and never run."""

from __future__ import annotations

import ast
import json
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment

from conftest import TEMPLATE, Bake

Cli = Callable[..., subprocess.CompletedProcess[str]]

ODD_NAME = 'Zo\u00eb\'s "Real" {App} \\ \u2603 \U0001f680'


def code_answer(marker: Path) -> str:
    """An answer that would create marker if any layer evaluated it as Python."""
    return f"\"\"\"; import os; os.system('touch {marker}') #'''\\n\\\""


def assert_sources_parse(project: Path) -> None:
    """Answers rendered into code must not break it: every .py and .toml still parses, and no
    string in the code holds half a character (as a JSON escape of an emoji would give)."""
    for path in project.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                try:
                    node.value.encode("utf-8")
                except UnicodeEncodeError:
                    pytest.fail(f"{path.relative_to(project)}:{node.lineno} breaks a character: {node.value!r}")
    for path in project.rglob("*.toml"):
        tomllib.loads(path.read_text(encoding="utf-8"))


def test_odd_but_valid_answers_survive(bake: Bake, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    answers = {
        "project_name": ODD_NAME,
        "description": code_answer(marker) + " \U0001f680 caf\u00e9",
        "author_name": 'Se\u00e1n O\'Brien "Bob" \\ {x}',
        "author_email": 'sean+"x"@example.com',
    }
    project = bake(**answers)

    assert project.name == "zoes-real-app"
    assert_sources_parse(project)
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["name"] == "zoes-real-app"
    assert meta["description"] == answers["description"]
    assert meta["authors"] == [{"name": answers["author_name"], "email": answers["author_email"]}]
    assert ODD_NAME in (project / "README.md").read_text(encoding="utf-8")
    assert not marker.exists(), "an answer ran as code"


def test_typed_jinja_stays_text(tmp_path: Path, cookiecutter_cli: Cli) -> None:
    """What a user types at a prompt is never rendered (unlike --no-input overrides, which
    cookiecutter treats as templates for derived defaults)."""
    marker = tmp_path / "MARKER"
    name = "{{ cookiecutter.__class__ }} {% raw %}"
    typed = [name, "", "", code_answer(marker) + " {{ 1 }}"]  # then Enter for every other default
    proc = cookiecutter_cli(str(TEMPLATE), "--output-dir", str(tmp_path / "out"), stdin="\n".join(typed) + "\n" * 20)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    project = tmp_path / "out" / "cookiecutter-class-raw"
    assert_sources_parse(project)
    assert name in (project / "README.md").read_text(encoding="utf-8")
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["description"] == code_answer(marker) + " {{ 1 }}"
    assert not marker.exists(), "an answer ran as code"


@pytest.mark.parametrize("hook", ["pre_gen_project.py", "post_gen_project.py"])
def test_hooks_read_answers_as_one_literal(hook: str) -> None:
    """The hooks hold Jinja in exactly one place: the JSON literal of the answers."""
    text = (TEMPLATE / "hooks" / hook).read_text(encoding="utf-8")
    assert text.count("{{") == 1
    assert "{{cookiecutter | tojson | tojson}}" in text
    assert "{%" not in text


HOSTILE = [
    '"""',
    "'''",
    "\\",
    "\\n",
    "\n",
    "{{ cookiecutter }}",
    "{% raw %}",
    "</script><!--",
    "__import__('os').system('touch MARKER')",
    "Zo\u00eb \u2603 \U0001f680 \u2028",
    "\x00\x1f",
]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_hook_literal_round_trips(value: str) -> None:
    """The rendered ANSWERS line is a plain string literal holding exactly the answers."""

    line = next(
        line
        for line in (TEMPLATE / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8").splitlines()
        if line.startswith("ANSWERS")
    )
    answers = {"project_name": value, "port": "8000", "include_examples": True}
    rendered = StrictEnvironment(context={"cookiecutter": answers}).from_string(line).render(cookiecutter=answers)
    call = ast.parse(rendered).body[0].value  # type: ignore[attr-defined]
    assert isinstance(call, ast.Call)
    assert json.loads(ast.literal_eval(call.args[0])) == answers
