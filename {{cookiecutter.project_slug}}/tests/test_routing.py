"""File-based routing: Nitro's conventions, ordering, errors, 426 and the route table."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.realtime import RouteError, load_routes
from {{ cookiecutter.package_name }}.realtime.routing import format_table, parse_route_file
from {{ cookiecutter.package_name }}.settings import Settings

PACKAGE = "{{ cookiecutter.package_name }}"

BASIC = Path(__file__).parent / "route_trees" / "basic"


@pytest.mark.parametrize(
    ("file", "path", "method"),
    [
        ("api/ws/chat.py", "/api/ws/chat", None),
        ("api/sse.py", "/api/sse", None),
        ("api/index.py", "/api", None),
        ("index.py", "/", None),
        ("api/items/[id].py", "/api/items/{id}", None),
        ("api/items/[id]/index.py", "/api/items/{id}", None),
        ("api/files/[...path].py", "/api/files/{path:path}", None),
        ("api/hello.get.py", "/api/hello", "GET"),
        ("api/hello.post.py", "/api/hello", "POST"),
        ("api/hello.DELETE.py", "/api/hello", "DELETE"),
        ("api/get.py", "/api/get", None),
        ("api/a.b.get.py", "/api/a.b", "GET"),
        ("api/a.b.py", "/api/a.b", None),
        ("(admin)/stats.py", "/stats", None),
        ("(a)/(b)/index.py", "/", None),
        ("shop/[cat]/[id].get.py", "/shop/{cat}/{id}", "GET"),
        ("post-[slug].py", "/post-{slug}", None),
    ],
)
def test_file_to_route(file: str, path: str, method: str | None) -> None:
    route = parse_route_file(PurePosixPath(file))
    assert route is not None
    assert (route.path, route.method) == (path, method)


@pytest.mark.parametrize(
    "file",
    ["_helpers.py", "api/_helpers.py", "api/_lib/util.py", "__init__.py", "api/__init__.py",
     "api/readme.md", "api/.hidden.py", "__pycache__/x.py"],
)  # fmt: skip
def test_not_routes(file: str) -> None:
    assert parse_route_file(PurePosixPath(file)) is None


def test_parameter_names_must_be_identifiers() -> None:
    with pytest.raises(RouteError, match=r"items/\[my-id\]\.py.*identifier"):
        parse_route_file(PurePosixPath("items/[my-id].py"))


@pytest.fixture
def basic(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, routes=BASIC)) as client:
        yield client


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/api", {"route": "api index"}),
        ("/api/items/7", {"id": 7}),
        ("/api/items/special", {"route": "special"}),
        ("/api/files/readme", {"route": "readme"}),
        ("/api/files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("/api/users/ada", {"user": "ada"}),
        ("/api/hello?name=you", {"hello": "you"}),
        ("/api/get", {"route": "get"}),
        ("/stats", {"route": "stats"}),
        ("/api/helped", {"greeting": "hi dependency"}),
    ],
)
def test_routes_are_served(basic: TestClient, url: str, expected: dict[str, object]) -> None:
    response = basic.get(url)
    assert response.status_code == 200, response.text
    assert response.json() == expected


def test_methods_validation_and_openapi(basic: TestClient) -> None:
    assert basic.post("/api/hello", json={"name": "ada"}).json() == {"posted": "ada"}
    assert basic.post("/api/hello", json={"nom": "ada"}).status_code == 422
    assert basic.put("/api/hello").status_code == 405
    assert basic.get("/api/items/not-a-number").status_code == 422
    assert basic.delete("/api/get").status_code == 200  # no suffix: every method
    paths = basic.get("/openapi.json").json()["paths"]
    assert set(paths["/api/hello"]) == {"get", "post"}
    assert "/api/items/{id}" in paths
    assert "/api/files/{path}" in paths


def test_not_routes_are_not_served(basic: TestClient) -> None:
    for url in ("/api/_helpers", "/api/_lib/util", "/(admin)/stats", "/admin/stats"):
        assert basic.get(url).status_code == 404, url


def test_static_beats_param_beats_rest_whatever_the_file_order(tmp_path: Path) -> None:
    for name in ("[...rest].py", "[id].py", "fixed.py"):
        (tmp_path / name).write_text(f"def handler() -> str:\n    return {name!r}\n")
    routes = load_routes(tmp_path, "order_tree")
    assert [r.source.path for r in routes] == ["/fixed", "/{id}", "/{rest:path}"]
    with TestClient(create_app(Settings(_env_file=None), routes=tmp_path)) as client:  # type: ignore[call-arg]
        assert client.get("/fixed").json() == "fixed.py"
        assert client.get("/other").json() == "[id].py"
        assert client.get("/a/b").json() == "[...rest].py"


def test_route_modules_have_stable_names() -> None:
    routes = {str(r.source.file): r for r in load_routes(BASIC, "basic_tree")}
    assert routes["api/items/[id].py"].handler.__module__ == "basic_tree.api.items.[id]"
    assert routes["api/hello.get.py"].handler.__module__ == "basic_tree.api.hello:get"
    module = sys.modules["basic_tree.api.helped"]
    assert pickle.loads(pickle.dumps(module.pickled))() == "pickled"


def test_websocket_params_and_426(basic: TestClient) -> None:
    with basic.websocket_connect("/api/ws/lobby") as ws:
        assert ws.receive_json() == {"params": {"room": "lobby"}}
    response = basic.get("/api/ws/lobby")
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"


def test_async_generator_is_sse(basic: TestClient) -> None:
    with basic.stream("GET", "/api/stream?count=2") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    assert "data: event 0" in body and "data: event 1" in body


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source)
    return root


OK = "def handler() -> None:\n    return None\n"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a/[id].py": OK, "a/[id]/index.py": OK}, r"routes/a/\[id\]/index\.py and routes/a/\[id\]\.py both claim"),
        ({"a/[x].py": OK, "a/[y].py": OK}, r"both claim GET /a/\{"),
        ({"(g)/s.py": OK, "s.get.py": OK}, r"both claim GET /s"),
        ({"bad.py": "def handler(:\n"}, r"bad\.py: failed to import: SyntaxError.*\(line 1\)"),
        ({"boom.py": "x = 1\nraise ValueError('nope')\n"}, r"boom\.py: failed to import: ValueError: nope \(line 2\)"),
        ({"empty.py": "x = 1\n"}, r"empty\.py: defines no `handler`"),
        ({"odd.py": "handler = 42\n"}, r"odd\.py: `handler` is a int"),
        ({"ws.post.py": "from {{ cookiecutter.package_name }}.realtime import define_websocket_handler\n"
                        "handler = define_websocket_handler()\n"}, r"ws\.post\.py: a websocket route cannot"),
    ],
)  # fmt: skip
def test_bad_route_trees_stop_start_up(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(RouteError, match=message):
        create_app(Settings(_env_file=None), routes=_tree(tmp_path, files))  # type: ignore[call-arg]


def test_same_path_different_methods_and_kinds_coexist(tmp_path: Path) -> None:
    ws = "from {{ cookiecutter.package_name }}.realtime import define_websocket_handler\n"
    ws += "handler = define_websocket_handler()\n"
    tree = _tree(tmp_path, {"x.get.py": OK, "x.post.py": OK, "live.py": ws, "live.get.py": OK})
    with TestClient(create_app(Settings(_env_file=None), routes=tree)) as client:  # type: ignore[call-arg]
        assert client.get("/live").status_code == 200  # the HTTP route wins over the 426
        assert client.post("/x").status_code == 200


def test_route_table() -> None:
    lines = format_table(load_routes(BASIC, "table_tree")).splitlines()
    rows = {tuple(line.split()[:4]) for line in lines}
    assert tuple(lines[0].split()) == ("METHOD", "PATH", "KIND", "FILE", "MESSAGES")
    assert ("WS", "/api/ws/{room}", "websocket", "routes/api/ws/[room].py") in rows
    assert ("GET", "/api/stream", "sse", "routes/api/stream.py") in rows
    assert ("GET", "/api/hello", "http", "routes/api/hello.get.py") in rows
    assert ("ANY", "/stats", "http", "routes/(admin)/stats.py") in rows


def test_routes_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", PACKAGE, "routes"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert result.stdout.splitlines()[0].split() == ["METHOD", "PATH", "KIND", "FILE", "MESSAGES"]
