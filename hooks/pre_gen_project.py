"""Refuse answers that would bake a broken project, before any file is written.

Stdlib only: this runs under whatever Python runs cookiecutter.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import unicodedata
from collections.abc import Callable

# Jinja writes the answers here as one JSON string literal (JSON text, quoted
# again as JSON), so quotes, backslashes or code in an answer stay data.
# Before rendering the line is still valid Python, which keeps ruff working.
ANSWERS: dict[str, object] = json.loads({{cookiecutter | tojson | tojson}})  # noqa: F821

SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
# Import lines such as `from <package_name>.realtime import ...` must stay within the
# generated project's 100 columns, or a fresh bake fails its own `make lint`.
# cookiecutter.json cuts the derived default to this length too.
PACKAGE_NAME_MAX = 30
# sys.stdlib_module_names leaves out the standard library's own `test` package.
STDLIB = frozenset(sys.stdlib_module_names) | {"test"}
# Import names of the generated project's dependencies: a package named like one would hide it.
DEPENDENCIES = frozenset(
    {"fastapi", "starlette", "pydantic", "pydantic_settings", "uvicorn", "sse_starlette", "redis", "httpx", "pytest"}
)


def is_port(value: object) -> bool:
    """An int, or the digits of one as Python writes it: `08000` renders as a SyntaxError."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and str(int(value)) == value):
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
    (
        "package_name",
        lambda v: len(str(v)) <= PACKAGE_NAME_MAX,
        f"is longer than {PACKAGE_NAME_MAX} characters",
    ),
    ("package_name", lambda v: not keyword.iskeyword(str(v)), "is a Python keyword"),
    ("package_name", lambda v: str(v) not in STDLIB, "shadows a standard-library module"),
    # The project's tests/ is a package too: one of the two would hide the other.
    ("package_name", lambda v: v != "tests", "is the name of the project's own tests package"),
    ("package_name", lambda v: str(v) not in DEPENDENCIES, "shadows a package the project depends on"),
    ("port", is_port, "must be an integer from 1 to 65535, without leading zeros (e.g. 8000)"),
    ("pubsub_backend", lambda v: v in ("memory", "redis"), "must be 'memory' or 'redis'"),
    ("include_examples", lambda v: isinstance(v, bool), "must be true or false"),
    ("include_demo_page", lambda v: isinstance(v, bool), "must be true or false"),
)


def slugify(name: str) -> str:
    """cookiecutter.json's `slugify` for the names it matters for (it also transliterates)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", re.sub("['\u2019]", "", ascii_name.lower())).strip("-")


def package_name(slug: str) -> str:
    """cookiecutter.json's default package name for this slug."""
    return slug.replace("-", "_")[:PACKAGE_NAME_MAX].strip("_")


def typed_as(name: str, answers: dict[str, object]) -> str:
    """The answer the user gave that `name`'s value was derived from (itself if none)."""
    value = answers.get(name)
    if name == "package_name" and value == package_name(str(answers.get("project_slug"))):
        return typed_as("project_slug", answers)
    if name == "project_slug" and value == slugify(str(answers.get("project_name"))):
        return "project_name"
    return name


def first_error(answers: dict[str, object]) -> str | None:
    for name, passes, rule in RULES:
        value = answers.get(name)
        if passes(value):
            continue
        source = typed_as(name, answers)
        if source == name:
            return f"ERROR: {name} {value!r} {rule}"
        # Name the answer the user typed: a derived value they never saw is no help alone.
        return (
            f"ERROR: {source} {answers[source]!r} gives {name} {value!r}, which {rule}; change {source} or set {name}"
        )
    return None


if __name__ == "__main__":
    error = first_error(ANSWERS)
    if error is not None:
        print(error, file=sys.stderr)
        sys.exit(1)
