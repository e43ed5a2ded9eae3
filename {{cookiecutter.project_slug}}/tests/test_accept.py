"""What `upgrade` may return (Accept), namespaces and peers(), through a real server."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from .conftest import Server, ServerFactory

ACCEPT_TREE = Path(__file__).parent / "route_trees" / "accept"
pytestmark = pytest.mark.timeout(20)
TIMEOUT = 5


def offer(*names: str) -> list[Subprotocol]:
    return [Subprotocol(name) for name in names]


@pytest.fixture
def server(server_factory: ServerFactory) -> Server:
    return server_factory(routes=ACCEPT_TREE)


def headers(ws: ClientConnection) -> Headers:
    assert ws.response is not None
    return ws.response.headers


def status(ws: ClientConnection) -> int:
    assert ws.response is not None
    return ws.response.status_code


def receive_json(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(TIMEOUT))


def test_the_chosen_subprotocol_is_the_one_named(server: Server) -> None:
    url = f"{server.ws_url}/hello?choose=b"
    with connect(url, subprotocols=offer("a", "b"), open_timeout=TIMEOUT) as ws:
        assert ws.subprotocol == "b"
        assert headers(ws)["Sec-WebSocket-Protocol"] == "b"


def test_no_subprotocol_is_named_unless_one_is_chosen(server: Server) -> None:
    url = f"{server.ws_url}/hello"
    with connect(url, subprotocols=offer("a", "b"), open_timeout=TIMEOUT) as ws:
        assert ws.subprotocol is None
        assert "Sec-WebSocket-Protocol" not in headers(ws)


@pytest.mark.parametrize("offered", [offer("a"), None])
def test_a_subprotocol_the_client_did_not_offer_refuses_with_500(
    server: Server, offered: list[Subprotocol] | None
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{server.ws_url}/hello?choose=b", subprotocols=offered, open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 500
    log = server.output()
    assert "upgrade hook failed for /hello" in log
    assert "subprotocol 'b', which the client did not offer" in log


def test_accept_headers_go_on_the_101(server: Server) -> None:
    with connect(f"{server.ws_url}/hello?greeting=hi", open_timeout=TIMEOUT) as ws:
        assert status(ws) == 101
        assert headers(ws)["X-Greeting"] == "hi"
        assert receive_json(ws)["context"] == {"asked": {"greeting": "hi"}}


def test_the_namespace_is_the_path_unless_accept_names_one(server: Server) -> None:
    with connect(f"{server.ws_url}/rooms/x", open_timeout=TIMEOUT) as ws:
        assert receive_json(ws)["namespace"] == "/rooms/x"
    with connect(f"{server.ws_url}/hello?namespace=lobby", open_timeout=TIMEOUT) as ws:
        assert receive_json(ws)["namespace"] == "lobby"


def test_remote_address_is_the_clients_host(server: Server) -> None:
    with connect(f"{server.ws_url}/hello", open_timeout=TIMEOUT) as ws:
        assert receive_json(ws)["remote"] == "127.0.0.1"


def join(stack: ExitStack, server: Server, path: str) -> tuple[ClientConnection, str]:
    ws = stack.enter_context(connect(f"{server.ws_url}{path}", open_timeout=TIMEOUT))
    return ws, receive_json(ws)["id"]


def peers_of(ws: ClientConnection) -> list[str]:
    ws.send("who")
    names: list[str] = receive_json(ws)
    return names


def test_peer_peers_are_its_namespace_as_peers_come_and_go(server: Server) -> None:
    with ExitStack() as stack:
        a, a_id = join(stack, server, "/rooms/x")
        other, other_id = join(stack, server, "/rooms/y")
        assert peers_of(a) == [a_id]
        with ExitStack() as inner:
            _, b_id = join(inner, server, "/rooms/x")
            assert peers_of(a) == sorted([a_id, b_id])
            assert peers_of(other) == [other_id]
        assert receive_json(a) == {"left": b_id}  # sent to the peers b left
        assert peers_of(a) == [a_id]


def test_accept_can_put_several_paths_in_one_namespace(server: Server) -> None:
    with ExitStack() as stack:
        a, a_id = join(stack, server, "/rooms/x?shared")
        _, b_id = join(stack, server, "/rooms/y?shared")
        assert peers_of(a) == sorted([a_id, b_id])


def test_server_code_lists_the_open_peers(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http, ExitStack() as stack:
        a, a_id = join(stack, server, "/rooms/x")
        _, b_id = join(stack, server, "/rooms/y")
        with ExitStack() as inner:
            _, c_id = join(inner, server, "/rooms/x")
            assert http.get("/peers").json() == sorted([a_id, b_id, c_id])
            assert http.get("/peers", params={"namespace": "/rooms/y"}).json() == [b_id]
            assert http.get("/peers", params={"namespace": "/nowhere"}).json() == []
        assert receive_json(a) == {"left": c_id}
        assert http.get("/peers").json() == sorted([a_id, b_id])
