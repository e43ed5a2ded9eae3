"""`python -m {{ cookiecutter.package_name }}`: what a user sees when a setting is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PACKAGE


def command(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", PACKAGE, *args],
        cwd=tmp_path,  # away from the project's .env
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "eighty", "PORT: Input should be a valid integer"),
        ("PUBSUB_URL", "kafka://broker", "PUBSUB_URL: Value error, use memory://"),
        ("PRESENCE_TTL", "90", "PRESENCE_TTL: Input should be less than or equal to 30"),
    ],
)
def test_a_bad_environment_value_is_one_line_naming_the_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = command(tmp_path, "serve", **{variable: value})
    assert result.returncode == 2
    [line] = result.stderr.splitlines()  # one line, no traceback
    assert line.startswith(f"error: {message}")


def test_the_route_table_needs_no_settings(tmp_path: Path) -> None:
    result = command(tmp_path, "routes", PORT="eighty")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:4] == ["METHOD", "PATH", "KIND", "FILE"]
