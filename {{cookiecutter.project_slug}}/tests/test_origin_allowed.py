"""`origin_allowed`: which browser origins may open a WebSocket (README, ALLOWED_ORIGINS)."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.realtime.limits import origin_allowed

ALLOWED = ("https://app.example", "http://localhost:3000", "https://admin.example:8443/")


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example",
        "HTTPS://App.Example",  # scheme and host are case-insensitive
        "https://app.example:443",  # the scheme's default port is the same origin
        "http://LOCALHOST:3000",
        "https://admin.example:8443",  # an entry's trailing slash is not part of it
    ],
)
def test_allowed_origins_match_case_and_default_port_aside(origin: str) -> None:
    assert origin_allowed(origin, "api.example", ALLOWED)


@pytest.mark.parametrize(
    "origin",
    [
        "http://app.example",  # another scheme
        "https://app.example:8443",  # another port
        "http://localhost",  # the default port is not 3000
        "https://app.example.evil",
        "https://evil.example",
        "null",
    ],
)
def test_other_origins_are_refused(origin: str) -> None:
    assert not origin_allowed(origin, "api.example", ALLOWED)


def test_default_ports_in_allowed_entries_match_origins_without_them() -> None:
    assert origin_allowed("https://app.example", None, ["HTTPS://APP.EXAMPLE:443"])
    assert origin_allowed("http://app.example", None, ["http://app.example:80"])


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("https://API.example", "api.example"),
        ("https://api.example", "api.example:443"),
        ("http://[::1]:8000", "[::1]:8000"),
        ("https://api.example", "API.EXAMPLE"),  # behind a TLS proxy: the scheme is not compared
    ],
)
def test_the_servers_own_origin_is_allowed(origin: str, host: str) -> None:
    assert origin_allowed(origin, host, ())


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:8001", "127.0.0.1:8000"),
        ("http://api.example:8080", "api.example"),
        ("https://api.example", None),
    ],
)
def test_another_host_or_port_is_not_the_servers_own(origin: str, host: str | None) -> None:
    assert not origin_allowed(origin, host, ())


def test_no_origin_is_not_a_browser_and_star_is_everyone() -> None:
    assert origin_allowed(None, None, ())
    assert origin_allowed("https://evil.example", "api.example", ["*"])
