"""File-based routes with Nitro's conventions.

`parse_route_file` is pure: it turns a path under `routes/` into a URL pattern.
`load_routes` imports the files and decides each route's kind from its
`handler`; `mount` registers them on a FastAPI app, most specific first.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
import traceback
import typing
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import WebSocketRoute

from .sse import SSEEvent, stream_response
from .websocket import Message, WebSocketHandler

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PARAM = re.compile(r"\[(\.\.\.)?([^\]]*)\]")
_WORD = re.compile(r"\W")


class RouteError(Exception):
    """A route file that cannot be served; the message names the file."""


@dataclass(frozen=True)
class RouteFile:
    """Where a file under `routes/` is served: its URL pattern and method, if any."""

    file: PurePosixPath
    path: str
    method: str | None

    @property
    def sort_key(self) -> tuple[tuple[int, str], ...]:
        """Static segments first, then segments with parameters, then catch-alls."""
        return tuple(_segment_rank(segment) for segment in self.path.split("/"))

    @property
    def shape(self) -> str:
        """The pattern with parameter names erased: two files of one shape clash."""
        return re.sub(r"\{[^}:]*(:path)?\}", lambda m: "{...}" if m[1] else "{}", self.path)


def parse_route_file(file: PurePosixPath) -> RouteFile | None:
    """The route a file defines, or None for files that are not routes."""
    if file.suffix != ".py" or any(part.startswith(("_", ".")) for part in file.parts):
        return None
    name, dot, suffix = file.stem.rpartition(".")
    method = suffix.upper() if dot and suffix.upper() in HTTP_METHODS else None
    segments = [*file.parts[:-1], name if method else file.stem]
    if segments[-1] == "index":
        segments.pop()
    url = [_url_segment(s, file) for s in segments if not (s.startswith("(") and s.endswith(")"))]
    return RouteFile(file, "/" + "/".join(url), method)


@dataclass(frozen=True)
class Route:
    source: RouteFile
    kind: str  # "websocket", "sse" or "http"
    handler: Any
    doc: str | None = None  # the route file's docstring

    @property
    def methods(self) -> tuple[str, ...]:
        if self.kind == "websocket":
            return ("WS",)
        if self.kind == "sse":
            return ("GET",)
        return (self.source.method,) if self.source.method else HTTP_METHODS[:5]

    @property
    def receives(self) -> Any:
        """What clients send a WebSocket route: a type, `Message` (any frame), or None."""
        if not isinstance(self.handler, WebSocketHandler) or self.handler.message is None:
            return None
        return self.handler.receives or Message

    @property
    def sends(self) -> Any:
        """The declared type of what the route sends (an SSE event's data), or None."""
        if isinstance(self.handler, WebSocketHandler):
            return self.handler.sends
        return _event_data_type(self.handler) if self.kind == "sse" else None


def load_routes(directory: Path, package: str) -> list[Route]:
    """Import every route file under `directory` as modules of `package`, most specific first.

    `package` holds the tree's modules when it is that directory (or names none
    yet); any other tree gets a subpackage of its own (see `_tree_package`).
    """
    package = _tree_package(package, directory)
    files = sorted(directory.rglob("*.py"))
    sources = [s for f in files if (s := parse_route_file(_relative(f, directory)))]
    routes = [_load(directory, source, package) for source in sources]
    _refuse_clashes(routes)
    return sorted(routes, key=lambda route: route.source.sort_key)


def mount(app: FastAPI, routes: Iterable[Route]) -> None:
    """Register `routes` on `app`; a file at a path the app already serves is an error.

    Among routes of one pattern the WebSocket route goes last, its 426 answer to plain
    HTTP right after it: an HTTP route on the same path wins, a less specific one cannot.
    """
    routes = list(routes)
    _refuse_served(app, routes)
    for route in sorted(routes, key=lambda r: (r.source.sort_key, r.kind == "websocket")):
        path, name = route.source.path, str(route.source.file)
        if route.kind == "websocket":
            app.router.routes.append(WebSocketRoute(path, route.handler, name=name))
            methods = list(HTTP_METHODS[:5])
            app.add_route(path, _upgrade_required, methods, include_in_schema=False)
        elif route.kind == "sse":
            generator = inspect.isasyncgenfunction(route.handler)
            app.add_api_route(
                path, _sse_endpoint(route.handler) if generator else route.handler,
                methods=["GET"], name=name,
                response_class=EventSourceResponse, response_model=None,
            )  # fmt: skip
        else:
            for method in route.methods:
                app.add_api_route(path, route.handler, methods=[method], name=name)


def format_table(routes: Iterable[Route]) -> str:
    rows = [("METHOD", "PATH", "KIND", "FILE", "MESSAGES")]
    rows += [
        (_methods(r), r.source.path, r.kind, f"routes/{r.source.file}", _messages(r))
        for r in routes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[4]]).rstrip()
        for row in rows
    )


def type_name(value: Any) -> str:
    """A type as its annotation reads: `Point`, `list[int]`."""
    return value.__name__ if isinstance(value, type) else repr(value).replace("typing.", "")


def _messages(route: Route) -> str:
    parts = [
        f"{verb} {type_name(value)}"
        for verb, value in (("receives", route.receives), ("sends", route.sends))
        if value is not None
    ]
    return ", ".join(parts)


def _methods(route: Route) -> str:
    return "ANY" if route.methods == HTTP_METHODS[:5] else ",".join(route.methods)


def _url_segment(segment: str, file: PurePosixPath) -> str:
    def convert(match: re.Match[str]) -> str:
        name = match[2]
        if not name.isidentifier():
            raise RouteError(f"{file}: parameter [{match[0][1:-1]}] must be a Python identifier")
        return f"{{{name}:path}}" if match[1] else f"{{{name}}}"

    return _PARAM.sub(convert, segment)


def _segment_rank(segment: str) -> tuple[int, str]:
    if ":path}" in segment:
        return (3, "")
    if segment.startswith("{") and segment.endswith("}") and segment.count("{") == 1:
        return (2, "")
    return (1, segment) if "{" in segment else (0, segment)


def _relative(file: Path, directory: Path) -> PurePosixPath:
    return PurePosixPath(file.relative_to(directory).as_posix())


def _tree_package(package: str, directory: Path) -> str:
    """The package of the route modules of `directory`, so that `from ._helpers import x` works.

    One package per directory: two trees (of one name, say) never share modules,
    which would hand one tree's `_helpers` to the other. The app's `routes/` is
    its own package; another tree becomes a subpackage named after its path.
    """
    directory = directory.resolve()
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError:
        return _new_package(package, directory)
    if [Path(p).resolve() for p in getattr(module, "__path__", ())] == [directory]:
        return package
    digest = hashlib.blake2s(str(directory).encode(), digest_size=6).hexdigest()
    name = f"{package}.{_WORD.sub('_', directory.name)}_{digest}"
    return name if name in sys.modules else _new_package(name, directory)


def _new_package(name: str, directory: Path) -> str:
    module = ModuleType(name)
    module.__path__ = [str(directory)]
    sys.modules[name] = module
    return name


def _module_name(package: str, file: PurePosixPath) -> str:
    # Dots join packages, so a method suffix (`hello.get.py`) is kept as `hello:get`.
    return ".".join([package, *file.parts[:-1], file.stem.replace(".", ":")])


def _load(directory: Path, source: RouteFile, package: str) -> Route:
    module = _import(directory / source.file, _module_name(package, source.file), source.file)
    handler = getattr(module, "handler", None)
    if handler is None:
        raise RouteError(f"{source.file}: defines no `handler`")
    if isinstance(handler, WebSocketHandler):
        kind = "websocket"
    elif inspect.isasyncgenfunction(handler) or (
        # h3's push style; under another method (a POST that streams) it stays an HTTP route
        source.method in (None, "GET") and _returns(handler, EventSourceResponse)
    ):
        kind = "sse"
    elif callable(handler):
        kind = "http"
    else:
        raise RouteError(
            f"{source.file}: `handler` is a {type(handler).__name__}; use "
            "define_websocket_handler(...), an async generator function or a function"
        )
    if kind != "http" and source.method not in (None, "GET" if kind == "sse" else None):
        raise RouteError(f"{source.file}: a {kind} route cannot take the .{source.method} suffix")
    return Route(source, kind, handler, inspect.getdoc(module))


def _import(path: Path, name: str, file: PurePosixPath) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise RouteError(f"{file}: failed to import: {_describe(exc, path)}") from exc
    return module


def _describe(exc: Exception, path: Path) -> str:
    line = exc.lineno if isinstance(exc, SyntaxError) else None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    error = "".join(traceback.format_exception_only(exc)).strip().splitlines()[-1]
    return f"{error} (line {line})" if line else error


def _refuse_clashes(routes: list[Route]) -> None:
    claims: dict[tuple[str, str], Route] = {}
    for route in routes:
        for method in route.methods:
            key = (route.source.shape, method)
            other = claims.setdefault(key, route)
            if other is not route:
                raise RouteError(
                    f"routes/{other.source.file} and routes/{route.source.file} both claim "
                    f"{method} {route.source.path}"
                )


def _returns(function: Any, cls: type) -> bool:
    """Whether `function` is annotated to return `cls` (or a subclass)."""
    returned = _return_annotation(function)
    return isinstance(returned, type) and issubclass(returned, cls)


def _return_annotation(function: Any) -> Any:
    try:
        return typing.get_type_hints(function).get("return")
    except Exception:  # an annotation that does not resolve: FastAPI will say so when it mounts
        return None


def _event_data_type(generator_function: Any) -> Any:
    """The data type of an SSE generator's events, from `-> AsyncIterator[Model]`.

    `AsyncIterator[SSEEvent[Model]]` types the data of events that also set an id or
    a name; other items (`dict`, `str`, `ServerSentEvent`) say nothing of their data.
    """
    returned = _return_annotation(generator_function)
    if typing.get_origin(returned) not in (AsyncIterator, AsyncIterable, AsyncGenerator):
        return None
    item = typing.get_args(returned)[0]
    if typing.get_origin(item) is SSEEvent:
        return typing.get_args(item)[0]
    if item is str or (isinstance(item, type) and issubclass(item, BaseModel)):
        return item
    return None


def _refuse_served(app: FastAPI, routes: list[Route]) -> None:
    # Routes the app registered before the files (built-ins such as /healthz, FastAPI's /docs).
    served = {getattr(r, "path", None): getattr(r, "name", "") for r in app.router.routes}
    for route in routes:
        name = served.get(route.source.path)
        if name is not None:
            raise RouteError(
                f"routes/{route.source.file} claims {route.source.path}, which the app serves "
                f"itself ({name}): move the file"
            )


def _sse_endpoint(generator_function: Any) -> Any:
    """A FastAPI endpoint with the generator's parameters, serving its events."""
    signature = inspect.signature(generator_function, eval_str=True)
    parameters = list(signature.parameters.values())
    request_name = next((p.name for p in parameters if p.annotation is Request), None)
    if request_name is None:
        parameters.append(inspect.Parameter("_sse_request", inspect.Parameter.KEYWORD_ONLY,
                                            annotation=Request))  # fmt: skip

    async def endpoint(**kwargs: Any) -> EventSourceResponse:
        request = kwargs[request_name] if request_name else kwargs.pop("_sse_request")
        return stream_response(request, generator_function(**kwargs))

    endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=EventSourceResponse
    )
    endpoint.__name__ = generator_function.__name__
    endpoint.__doc__ = generator_function.__doc__
    return endpoint


async def _upgrade_required(request: Request) -> Response:
    return PlainTextResponse("This is a WebSocket endpoint.", 426, {"Upgrade": "websocket"})
