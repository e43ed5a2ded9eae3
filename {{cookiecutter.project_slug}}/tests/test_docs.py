"""The docs: they never show user text going into HTML, and they cite only what the project has."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT = Path(__file__).parent.parent
# Ways to turn a string into markup; the demo page's own script is checked in test_demo_page.py.
HTML_SINKS = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write)\b")
# How a file cites a document: `docs/design.md`, or a name and a section ("README section 2").
CITATIONS = re.compile(r"\b(docs/[\w-]+\.md|[A-Z][A-Z_]{3,}(?:\.md)?(?= section \d))")


def test_the_docs_use_text_content_never_inner_html() -> None:
    docs = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("**/*.md"))]
    for doc in docs:
        assert not HTML_SINKS.findall(doc.read_text()), doc.name


def test_every_document_cited_is_in_the_project() -> None:
    sources = [p for folder in ("src", "tests", "docs") for p in (PROJECT / folder).rglob("*.*")]
    for file in [PROJECT / "README.md", PROJECT / "Makefile", PROJECT / "pyproject.toml", *sources]:
        if file.suffix not in {".py", ".md", ".toml", ""}:
            continue
        for cited in CITATIONS.findall(file.read_text()):
            path = cited if "/" in cited else cited.removesuffix(".md") + ".md"
            assert (PROJECT / path).is_file(), f"{file.relative_to(PROJECT)} cites {cited}"
