"""The AsyncAPI document: what it says of each route, and that the official parser accepts it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx_sse import EventSource

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.realtime import load_routes
from {{ cookiecutter.package_name }}.realtime.routing import format_table

from .conftest import PACKAGE, make_settings

TREE = Path(__file__).parent / "route_trees" / "asyncapi"
PARSER = "@asyncapi/parser@3.6.6"
# Prints the parser's diagnostics for the document on stdin, as JSON; exits 1 if it parsed none.
CHECK = """
const { Parser } = require("@asyncapi/parser");
const text = require("fs").readFileSync(0, "utf8");
new Parser().parse(text).then(({ document, diagnostics }) => {
  const found = diagnostics.map(d => ({ severity: d.severity, message: d.message, path: d.path }));
  console.log(JSON.stringify(found));
  process.exit(document ? 0 : 1);
});
"""
ERROR = 0  # a diagnostic's severity: 0 error, 1 warning, 2 information, 3 hint


@pytest.fixture(scope="module")
def tree_client() -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(), routes=TREE)) as client:
        yield client


@pytest.fixture(scope="module")
def tree_document(tree_client: TestClient) -> dict[str, Any]:
    response = tree_client.get("/asyncapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture(scope="module")
def app_document() -> dict[str, Any]:
    """The document of the project's own routes."""
    return served_document()


def served_document() -> dict[str, Any]:
    with TestClient(create_app(make_settings())) as client:
        document: dict[str, Any] = client.get("/asyncapi.json").json()
        return document


def channel_at(document: dict[str, Any], address: str) -> tuple[str, dict[str, Any]]:
    [(name, channel)] = [
        (name, channel)
        for name, channel in document["channels"].items()
        if channel["address"] == address
    ]
    return name, channel


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def operations_of(document: dict[str, Any], channel: str) -> dict[str, dict[str, Any]]:
    """The channel's operations by action, each with its message resolved."""
    found = {}
    for operation in document["operations"].values():
        if operation["channel"]["$ref"] == f"#/channels/{channel}":
            [message] = [resolve(document, m["$ref"]) for m in operation["messages"]]
            found[operation["action"]] = message
    return found


def payload(document: dict[str, Any], message: dict[str, Any]) -> Any:
    return resolve(document, message["payload"]["$ref"])


def test_every_websocket_and_sse_route_is_a_channel_at_its_path(
    tree_document: dict[str, Any],
) -> None:
    assert tree_document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in tree_document["channels"].values()}
    assert addresses == {
        "/rooms/{room}",
        "/files/{path}",
        "/numbers",
        "/points",
        "/ticks",
        "/feed",
        "/silent",
    }


def test_path_parameters_are_declared(tree_document: dict[str, Any]) -> None:
    assert set(channel_at(tree_document, "/rooms/{room}")[1]["parameters"]) == {"room"}
    assert set(channel_at(tree_document, "/files/{path}")[1]["parameters"]) == {"path"}
    assert "parameters" not in channel_at(tree_document, "/numbers")[1]


def test_a_channel_is_described_by_its_route_files_docstring(
    tree_document: dict[str, Any],
) -> None:
    _, rooms = channel_at(tree_document, "/rooms/{room}")
    assert rooms["description"] == (
        "Typed both ways, with a path parameter.\n\nWebSocket, served by routes/rooms/[room].py"
    )


def test_websocket_channels_have_the_ws_binding_and_sse_ones_do_not(
    tree_document: dict[str, Any],
) -> None:
    _, rooms = channel_at(tree_document, "/rooms/{room}")
    assert rooms["bindings"]["ws"]["method"] == "GET"
    _, points = channel_at(tree_document, "/points")
    assert "bindings" not in points


def test_typed_hooks_are_received_and_sends_sent_with_pydantics_schemas(
    tree_document: dict[str, Any],
) -> None:
    name, _ = channel_at(tree_document, "/rooms/{room}")
    operations = operations_of(tree_document, name)
    assert set(operations) == {"receive", "send"}
    say = payload(tree_document, operations["receive"])
    assert say["required"] == ["text"]
    assert say["properties"]["text"] == {
        "maxLength": 2000,
        "minLength": 1,
        "title": "Text",
        "type": "string",
    }
    assert say["properties"]["mood"]["enum"] == ["calm", "loud"]
    said = payload(tree_document, operations["send"])
    assert said["properties"]["priority"]["enum"] == [1, 2, 3]  # not only strings
    assert said["properties"]["time"]["format"] == "date-time"
    author = resolve(tree_document, said["properties"]["author"]["$ref"])
    assert author["properties"]["name"]["maxLength"] == 32
    assert operations["send"]["contentType"] == "application/json"


def test_a_type_that_is_not_a_model_gets_its_own_schema(tree_document: dict[str, Any]) -> None:
    name, _ = channel_at(tree_document, "/numbers")
    operations = operations_of(tree_document, name)
    assert payload(tree_document, operations["receive"]) == {
        "items": {"type": "integer"},
        "type": "array",
    }
    assert operations["send"]["contentType"] == "text/plain"


def test_binary_frames_are_octet_streams(tree_document: dict[str, Any]) -> None:
    name, _ = channel_at(tree_document, "/files/{path}")
    operations = operations_of(tree_document, name)
    assert operations["send"]["contentType"] == "application/octet-stream"
    assert payload(tree_document, operations["send"])["format"] == "binary"
    assert operations["receive"]["name"] == "AnyFrame"  # an untyped hook takes any frame


def test_sse_channels_send_their_data_type(tree_document: dict[str, Any]) -> None:
    for address in ("/points", "/ticks"):
        name, _ = channel_at(tree_document, address)
        operations = operations_of(tree_document, name)
        assert set(operations) == {"send"}
        assert payload(tree_document, operations["send"])["title"] == "Point"
    name, _ = channel_at(tree_document, "/feed")
    assert operations_of(tree_document, name)["send"]["name"] == "Undeclared"


def test_a_route_that_declares_nothing_has_no_operation(tree_document: dict[str, Any]) -> None:
    name, _ = channel_at(tree_document, "/silent")
    assert operations_of(tree_document, name) == {}


def test_every_reference_resolves(tree_document: dict[str, Any]) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(tree_document))
    assert len(found) > 20
    for ref in found:
        resolve(tree_document, ref)


def test_a_catch_all_route_does_not_shadow_the_document(tree_client: TestClient) -> None:
    assert tree_client.get("/anything/else").json() == {"caught": "anything/else"}
    assert tree_client.get("/asyncapi.json").json()["asyncapi"] == "3.0.0"


def test_the_page_shows_each_operation_and_schema_and_loads_nothing(
    tree_client: TestClient,
) -> None:
    response = tree_client.get("/asyncapi")
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<code>/rooms/{room}</code>" in page
    assert 'Clients send <a href="#Say">Say</a>' in page
    assert 'The server sends <a href="#Said">Said</a>' in page
    assert '<h3 id="Said">' in page
    assert "&lt;b&gt;a docstring is text&lt;/b&gt;" in page
    assert "<b>" not in page
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)  # nothing from elsewhere


def test_the_command_prints_the_served_document(
    app_document: dict[str, Any], tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", PACKAGE, "asyncapi"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout) == app_document


def test_route_table_shows_what_routes_receive_and_send() -> None:
    rows = {
        line.split()[1]: line
        for line in format_table(load_routes(TREE, "table_asyncapi")).splitlines()
    }
    assert rows["/rooms/{room}"].endswith("receives Say, sends Said")
    assert rows["/numbers"].endswith("receives list[int], sends str")
    assert rows["/files/{path:path}"].endswith("receives Message, sends bytes")
    assert rows["/ticks"].endswith("sends Point")
    assert rows["/feed"].split()[2] == "sse"
    assert rows["/answer"].split()[:3] == [
        "POST",
        "/answer",
        "http",
    ]  # streams, but not to EventSource


def test_sse_generators_send_each_model_as_one_json_event(tree_client: TestClient) -> None:
    with tree_client.stream("GET", "/points?count=2") as response:
        events = [(e.event, e.data) for e in EventSource(response).iter_sse()]
    assert events == [("message", '{"x":0,"y":0}'), ("message", '{"x":1,"y":-1}')]


def parser_directory() -> Path:
    """Where npm installs the parser once, outside the project."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "realtime-asyncapi" / PARSER.replace("/", "+")


def skip_without_node(reason: str) -> None:
    if os.environ.get("REALTIME_REQUIRE_NODE") == "1":
        pytest.fail(f"{reason}, and REALTIME_REQUIRE_NODE=1")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def asyncapi_parser() -> Path:
    """node_modules with @asyncapi/parser; skipped without Node unless REALTIME_REQUIRE_NODE=1."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        skip_without_node("node and npm are needed to run the official AsyncAPI parser")
    directory = parser_directory()
    modules = directory / "node_modules"
    if not (modules / "@asyncapi" / "parser").is_dir():
        # Installed beside, then renamed into place: test runs side by side (the template
        # bakes several projects at once) never see, or write into, a half-made install.
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix="installing-"))
        install = subprocess.run(
            ["npm", "install", "--prefix", str(staging), "--no-audit", "--no-fund", PARSER],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if install.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            skip_without_node(f"npm could not install {PARSER}: {install.stderr[-2000:]}")
        try:
            staging.rename(directory)
        except OSError:  # another run got there first
            shutil.rmtree(staging, ignore_errors=True)
    return modules


@pytest.mark.timeout(180)
@pytest.mark.parametrize("which", ["app", "tree"])
def test_the_official_parser_accepts_the_document(
    asyncapi_parser: Path,
    which: str,
    request: pytest.FixtureRequest,
) -> None:
    document = request.getfixturevalue(f"{which}_document")
    result = subprocess.run(
        ["node", "-e", CHECK],
        input=json.dumps(document), capture_output=True, text=True, timeout=150,
        env={**os.environ, "NODE_PATH": str(asyncapi_parser)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    diagnostics = json.loads(result.stdout)
    assert [d for d in diagnostics if d["severity"] == ERROR] == []
