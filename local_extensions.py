"""Jinja filters for the template (cookiecutter loads this through `_extensions`)."""

from __future__ import annotations

import json

from cookiecutter.utils import simple_filter


@simple_filter
def literal(value: object) -> str:
    """A double-quoted string literal, valid in Python and TOML, that keeps unicode as is.

    `tojson` would write an emoji as a surrogate pair, which neither language reads
    back as one character. Quotes become `\\u0022` so ruff format keeps the literal.
    """
    text = json.dumps(str(value), ensure_ascii=False)
    return text.replace('\\"', "\\u0022").replace("\x7f", "\\u007f")
