"""The demo page at `/`: served with the project's name, its assets load, user text stays text."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import STATIC
from {{ cookiecutter.package_name }}.settings import Settings

PROJECT_NAME = Settings.model_fields["app_name"].default  # the project's name, as baked
{%- if cookiecutter.include_examples %}
# Ways to turn a string into markup; the page builds its elements and sets textContent instead.
HTML_SINKS = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser)\b")
{%- endif %}


def page(client: TestClient) -> str:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.content.decode("utf-8")


def test_page_is_titled_with_the_project_name(client: TestClient) -> None:
    text = page(client)
    title = re.search(r"<title>(.*?)</title>", text, re.DOTALL)
    heading = re.search(r"<h1>(.*?)</h1>", text, re.DOTALL)
    assert title is not None and html.unescape(title.group(1)) == PROJECT_NAME
    assert heading is not None and html.unescape(heading.group(1)) == PROJECT_NAME


def test_assets_load(client: TestClient) -> None:
    text = page(client)
    assets = re.findall(r'(?:href|src)="(static/[^"]+)"', text)
    assert "static/style.css" in assets
    for asset in assets:
        response = client.get(f"/{asset}")
        assert response.status_code == 200, asset
        assert response.content


def test_the_page_is_not_in_the_openapi_schema(client: TestClient) -> None:
    assert "/" not in client.get("/openapi.json").json()["paths"]
{%- if cookiecutter.include_examples %}


def test_page_has_both_panels(client: TestClient) -> None:
    text = page(client)
    assert 'src="static/app.js"' in text
    for element in ("join-form", "room-state", "room-log", "say-form", "ticker-state"):
        assert f'id="{element}"' in text


def test_script_finds_every_element_it_uses(client: TestClient) -> None:
    text = page(client)
    script = client.get("/static/app.js").text
    used = set(re.findall(r'getElementById\("([^"]+)"\)', script))
    assert used
    assert {name for name in used if f'id="{name}"' not in text} == set()


def test_script_derives_every_url_from_the_page() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    assert "document.baseURI" in script
    assert not re.search(r"""["'`](?:wss?|https?)://""", script), "no fixed host in the script"


def test_script_keeps_user_text_out_of_html() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    assert HTML_SINKS.findall(script) == []
    assert "textContent" in script
{%- else %}


def test_page_says_there_are_no_samples(client: TestClient) -> None:
    text = page(client)
    assert "No samples" in text
    assert "app.js" not in text
    assert not (STATIC / "app.js").exists()
{%- endif %}
