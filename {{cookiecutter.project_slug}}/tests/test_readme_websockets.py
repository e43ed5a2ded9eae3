"""The README's WebSocket examples, as written, served and used by a real client."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from .conftest import Server, ServerFactory

README = Path(__file__).parents[1] / "README.md"
README_TREE = Path(__file__).parent / "route_trees" / "readme"
EXAMPLES = ["api/ws/secure.py", "api/ws/account.py", "api/ws/points.py"]
pytestmark = pytest.mark.timeout(20)
TIMEOUT = 5


def offer(*names: str) -> list[Subprotocol]:
    return [Subprotocol(name) for name in names]


@pytest.fixture
def server(server_factory: ServerFactory) -> Server:
    return server_factory(routes=README_TREE)


def readme_example(route: str) -> str:
    """The README's code block whose first line names the route file."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    [block] = [b for b in blocks if b.startswith(f"# routes/{route}")]
    return str(block)


@pytest.mark.parametrize("route", EXAMPLES)
def test_the_route_files_are_the_readme_examples(route: str) -> None:
    assert (README_TREE / route).read_text() == readme_example(route)


def test_a_token_offered_as_a_subprotocol_admits_and_bearer_alone_is_named(server: Server) -> None:
    url = f"{server.ws_url}/api/ws/secure"
    with connect(url, subprotocols=offer("bearer", "3f9c2a7e"), open_timeout=TIMEOUT) as ws:
        assert ws.subprotocol == "bearer"
        assert ws.recv(TIMEOUT) == "hello ada"


@pytest.mark.parametrize("offered", [offer("bearer", "wrong"), offer("bearer"), None])
def test_a_missing_or_wrong_token_is_401_with_www_authenticate(
    server: Server, offered: list[Subprotocol] | None
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{server.ws_url}/api/ws/secure", subprotocols=offered, open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"] == "Bearer"


def test_the_session_cookie_admits_from_the_servers_own_page(server: Server) -> None:
    headers = {"Cookie": "session=b1e8d04c", "Origin": server.url}
    with connect(f"{server.ws_url}/api/ws/account", additional_headers=headers) as ws:
        assert ws.recv(TIMEOUT) == "hello ada"


@pytest.mark.parametrize(
    ("cookie", "origin"),
    [("session=b1e8d04c", "https://evil.example"), ("session=nope", None), (None, None)],
)
def test_another_sites_page_or_no_session_is_403(
    server: Server, cookie: str | None, origin: str | None
) -> None:
    headers = {name: value for name, value in [("Cookie", cookie), ("Origin", origin)] if value}
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{server.ws_url}/api/ws/account", additional_headers=headers)
    assert refused.value.response.status_code == 403


def test_the_typed_example_validates_and_swaps(server: Server) -> None:
    with connect(f"{server.ws_url}/api/ws/points") as ws:
        ws.send('{"x": 1, "y": 2}')
        assert json.loads(ws.recv(TIMEOUT)) == {"x": 2, "y": 1}
        ws.send('{"x": 1}')
        assert json.loads(ws.recv(TIMEOUT))["error"] == "invalid message"
