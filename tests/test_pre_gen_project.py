"""The pre-gen hook refuses bad answers with one clear line and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from conftest import Bake

# (answers, the variable the message must name, words the message must contain)
BAD_ANSWERS: list[tuple[dict[str, str], str, str]] = [
    ({"project_slug": "Bad Slug"}, "project_slug", "lowercase"),
    ({"project_slug": "-x"}, "project_slug", "starting with a letter"),
    ({"project_slug": "x-"}, "project_slug", "single '-'"),
    ({"project_slug": "a--b"}, "project_slug", "single '-'"),
    ({"project_slug": "1app"}, "project_slug", "starting with a letter"),
    ({"package_name": "class"}, "package_name", "keyword"),
    ({"package_name": "json"}, "package_name", "standard-library module"),
    ({"package_name": "asyncio"}, "package_name", "standard-library module"),
    ({"package_name": "fastapi"}, "package_name", "depends on"),
    ({"package_name": "1abc"}, "package_name", "identifier"),
    ({"package_name": "a-b"}, "package_name", "identifier"),
    ({"package_name": "caf\u00e9"}, "package_name", "identifier"),
    ({"port": "0"}, "port", "1 to 65535"),
    ({"port": "70000"}, "port", "1 to 65535"),
    ({"port": "80a"}, "port", "1 to 65535"),
    ({"port": "-1"}, "port", "1 to 65535"),
    ({"project_name": "   "}, "project_name", "empty"),
]


@pytest.mark.parametrize(
    ("answers", "variable", "words"), BAD_ANSWERS, ids=[f"{v}={a[v]!r}" for a, v, _ in BAD_ANSWERS]
)
def test_bad_answer_is_refused(
    bake: Bake, tmp_path: Path, capfd: pytest.CaptureFixture[str], answers: dict[str, str], variable: str, words: str
) -> None:
    out = tmp_path / "out"
    # A blank name would also blank the derived slug and folder; give them a valid one.
    extra = {"project_slug": "ok"} if variable == "project_name" else {}
    with pytest.raises(FailedHookException):
        bake(output_dir=out, **extra, **answers)
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ERROR: {variable} {answers[variable]!r} "), lines[0]
    assert words in lines[0]
    assert list(out.iterdir()) == [], "a half-made project was left behind"


@pytest.mark.parametrize(
    "answers",
    [
        {"project_slug": "a1-b2", "package_name": "a1_b2"},
        {"project_slug": "x", "package_name": "_x"},
        {"port": "1"},
        {"port": "65535"},
        {"pubsub_backend": "redis", "include_examples": "no", "include_demo_page": "false"},
    ],
)
def test_edge_answer_is_accepted(bake: Bake, answers: dict[str, str]) -> None:
    assert bake(**answers).is_dir()
