"""Refuse answers that would bake a broken project, before any file is written.

Stdlib only: this runs under whatever Python runs cookiecutter.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable

# Jinja writes the answers here as one JSON string literal (JSON text, quoted
# again as JSON), so quotes, backslashes or code in an answer stay data.
# Before rendering the line is still valid Python, which keeps ruff working.
ANSWERS: dict[str, object] = json.loads({{cookiecutter | tojson | tojson}})  # noqa: F821

SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
# Import names of the generated project's dependencies: a package named like one would hide it.
DEPENDENCIES = frozenset(
    {"fastapi", "starlette", "pydantic", "pydantic_settings", "uvicorn", "sse_starlette", "redis", "httpx", "pytest"}
)


def is_port(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            return False
        value = int(value)
    return isinstance(value, int) and 1 <= value <= 65535


def is_identifier(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isidentifier()


Rule = tuple[str, Callable[[object], bool], str]

# (variable, test the answer must pass, what to tell the user when it fails)
RULES: tuple[Rule, ...] = (
    ("project_name", lambda v: isinstance(v, str) and bool(v.strip()), "must not be empty"),
    (
        "project_slug",
        lambda v: isinstance(v, str) and SLUG.fullmatch(v) is not None,
        "must be lowercase letters, digits and single '-' between words, starting with a letter (e.g. realtime-app)",
    ),
    (
        "package_name",
        is_identifier,
        "must be a Python identifier: ASCII letters, digits and '_', not starting with a digit (e.g. realtime_app)",
    ),
    ("package_name", lambda v: not keyword.iskeyword(str(v)), "is a Python keyword; choose another name"),
    (
        "package_name",
        lambda v: str(v) not in sys.stdlib_module_names,
        "shadows a standard-library module; choose another name",
    ),
    (
        "package_name",
        lambda v: str(v) not in DEPENDENCIES,
        "shadows a package the project depends on; choose another name",
    ),
    ("port", is_port, "must be an integer from 1 to 65535"),
    ("pubsub_backend", lambda v: v in ("memory", "redis"), "must be 'memory' or 'redis'"),
    ("include_examples", lambda v: isinstance(v, bool), "must be true or false"),
    ("include_demo_page", lambda v: isinstance(v, bool), "must be true or false"),
)


def first_error(answers: dict[str, object]) -> str | None:
    for name, passes, rule in RULES:
        value = answers.get(name)
        if not passes(value):
            return f"ERROR: {name} {value!r} {rule}"
    return None


if __name__ == "__main__":
    error = first_error(ANSWERS)
    if error is not None:
        print(error, file=sys.stderr)
        sys.exit(1)
