"""Bad answers are refused with one clear line and leave nothing behind."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from conftest import TEMPLATE, Bake

SLUG_RULE = "must be lowercase letters, digits and single '-' between words, starting with a letter (e.g. realtime-app)"
IDENTIFIER_RULE = (
    "must be a Python identifier: ASCII letters, digits and '_', not starting with a digit (e.g. realtime_app)"
)
PORT_RULE = "must be an integer from 1 to 65535, without leading zeros (e.g. 8000)"

# (answers, the one line the pre-gen hook prints): the README's table of bad answers.
BAD_ANSWERS: list[tuple[dict[str, str], str]] = [
    ({"project_slug": "Bad Slug"}, f"ERROR: project_slug 'Bad Slug' {SLUG_RULE}"),
    ({"project_slug": "-x"}, f"ERROR: project_slug '-x' {SLUG_RULE}"),
    ({"project_slug": "x-"}, f"ERROR: project_slug 'x-' {SLUG_RULE}"),
    ({"project_slug": "a--b"}, f"ERROR: project_slug 'a--b' {SLUG_RULE}"),
    ({"project_slug": "1app"}, f"ERROR: project_slug '1app' {SLUG_RULE}"),
    (
        {"project_name": "3D Chat"},
        f"ERROR: project_name '3D Chat' gives project_slug '3d-chat', which {SLUG_RULE}; "
        "change project_name or set project_slug",
    ),
    (
        {"project_name": "Test"},
        "ERROR: project_name 'Test' gives package_name 'test', which shadows a standard-library module; "
        "change project_name or set package_name",
    ),
    (
        {"project_slug": "json"},
        "ERROR: project_slug 'json' gives package_name 'json', which shadows a standard-library module; "
        "change project_slug or set package_name",
    ),
    ({"package_name": "a" * 31}, f"ERROR: package_name '{'a' * 31}' is longer than 30 characters"),
    ({"package_name": "class"}, "ERROR: package_name 'class' is a Python keyword"),
    ({"package_name": "json"}, "ERROR: package_name 'json' shadows a standard-library module"),
    ({"package_name": "asyncio"}, "ERROR: package_name 'asyncio' shadows a standard-library module"),
    ({"package_name": "test"}, "ERROR: package_name 'test' shadows a standard-library module"),
    ({"package_name": "tests"}, "ERROR: package_name 'tests' is the name of the project's own tests package"),
    ({"package_name": "fastapi"}, "ERROR: package_name 'fastapi' shadows a package the project depends on"),
    ({"package_name": "1abc"}, f"ERROR: package_name '1abc' {IDENTIFIER_RULE}"),
    ({"package_name": "a-b"}, f"ERROR: package_name 'a-b' {IDENTIFIER_RULE}"),
    ({"package_name": "caf\u00e9"}, f"ERROR: package_name 'caf\u00e9' {IDENTIFIER_RULE}"),
    ({"port": "0"}, f"ERROR: port '0' {PORT_RULE}"),
    ({"port": "70000"}, f"ERROR: port '70000' {PORT_RULE}"),
    ({"port": "80a"}, f"ERROR: port '80a' {PORT_RULE}"),
    ({"port": "-1"}, f"ERROR: port '-1' {PORT_RULE}"),
    ({"port": "08000"}, f"ERROR: port '08000' {PORT_RULE}"),
    # A blank name would also blank the derived slug; the one given keeps the check on the name.
    ({"project_name": "   ", "project_slug": "ok"}, "ERROR: project_name '   ' must not be empty"),
]

# Answers to a choice or a boolean that cookiecutter itself refuses, before our hook runs,
# with a traceback whose last line is this (the README's table says so).
REFUSED_BY_COOKIECUTTER: list[tuple[str, str]] = [
    (
        "pubsub_backend=kafka",
        "ValueError: kafka provided for choice variable pubsub_backend, but the choices are ['memory', 'redis'].",
    ),
    (
        "include_examples=maybe",
        "ValueError: maybe provided for variable include_examples could not be converted to a boolean.",
    ),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=[", ".join(a.values()) for a, _ in BAD_ANSWERS])
def test_bad_answer_is_refused(
    bake: Bake, tmp_path: Path, capfd: pytest.CaptureFixture[str], answers: dict[str, str], message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(FailedHookException):
        bake(output_dir=out, **answers)
    assert capfd.readouterr().err.strip().splitlines() == [message]
    assert list(out.iterdir()) == [], "a half-made project was left behind"


@pytest.mark.parametrize(("answer", "last_line"), REFUSED_BY_COOKIECUTTER, ids=[a for a, _ in REFUSED_BY_COOKIECUTTER])
def test_bad_choice_is_refused_by_cookiecutter(
    tmp_path: Path, cookiecutter_cli: Callable[..., subprocess.CompletedProcess[str]], answer: str, last_line: str
) -> None:
    out = tmp_path / "out"
    proc = cookiecutter_cli(str(TEMPLATE), "--no-input", "--output-dir", str(out), answer)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == last_line
    assert not out.exists() or list(out.iterdir()) == [], "a half-made project was left behind"


@pytest.mark.parametrize(
    "answers",
    [
        {"project_slug": "a1-b2", "package_name": "a1_b2"},
        {"project_slug": "x", "package_name": "_x"},
        {"package_name": "a" * 30},
        {"port": "1"},
        {"port": "65535"},
        {"pubsub_backend": "redis", "include_examples": "no", "include_demo_page": "false"},
    ],
)
def test_edge_answer_is_accepted(bake: Bake, answers: dict[str, str]) -> None:
    assert bake(**answers).is_dir()


def test_a_long_name_gives_a_package_name_cut_to_30_characters(bake: Bake) -> None:
    project = bake(project_name="A Rather Long Name For A Chat Service")
    assert project.name == "a-rather-long-name-for-a-chat-service"
    assert (project / "src" / "a_rather_long_name_for_a_chat").is_dir()
