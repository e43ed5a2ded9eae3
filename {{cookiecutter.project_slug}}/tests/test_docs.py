"""The docs never show user text going into HTML: a snippet copied from them must be safe."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT = Path(__file__).parent.parent
# Ways to turn a string into markup; the demo page's own script is checked in test_demo_page.py.
HTML_SINKS = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write)\b")


def test_the_docs_use_text_content_never_inner_html() -> None:
    docs = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("**/*.md"))]
    for doc in docs:
        assert not HTML_SINKS.findall(doc.read_text()), doc.name
