"""The AsyncAPI 3.0 document of an app's WebSocket and SSE routes.

Each such route is a channel whose address is its path. Operations are the
server's: `receive` for what clients send it (a typed `message` hook, or any
frame), `send` for what it sends them (`sends=`, an SSE generator's data).
The document's structure is pydantic-asyncapi's object model; the payloads'
JSON Schemas are pydantic's, kept whole in `components.schemas`, because
that library's `Schema` knows only part of JSON Schema and would drop the rest.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode
from pydantic_asyncapi.base import Reference
from pydantic_asyncapi.bindings.http import HTTPOperationBinding
from pydantic_asyncapi.bindings.websockets import WebSocketsChannelBinding
from pydantic_asyncapi.common import ChannelBindings, OperationBindings
from pydantic_asyncapi.v3 import AsyncAPI, Channel, Info, Message, Operation, Parameter

from .routing import Route, type_name
from .websocket import Message as Frame

Action = Literal["receive", "send"]
# The key, in its channel's messages, of what the server receives and what it sends.
MESSAGE_KEYS: dict[Action, str] = {"receive": "received", "send": "sent"}
SCHEMAS = "#/components/schemas/"
# The payloads of messages whose type the route does not say.
UNTYPED = {
    "receive": ("AnyFrame", {"description": "Any text or binary frame."}),
    "send": ("Undeclared", {"description": "Not declared by the route."}),
}
WS_BINDINGS = ChannelBindings(ws=WebSocketsChannelBinding(method="GET", query=None))
# An SSE stream is sent in answer to a GET; a WebSocket's channel binding says it all.
SSE_BINDINGS = OperationBindings(http=HTTPOperationBinding(method="GET", query=None))
_PATH_PARAMETER = re.compile(r"\{(\w+)(:path)?\}")


def asyncapi_document(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    """The document, as JSON-able data."""
    channels: dict[str, Channel | Reference] = {}
    operations: dict[str, Operation | Reference] = {}
    messages: list[tuple[str, Action, Any]] = []  # channel, action, type (None: undeclared)
    kinds: dict[str, str] = {}
    for route, channel in _channel_ids([r for r in routes if r.kind in ("websocket", "sse")]):
        kinds[channel] = route.kind
        if route.receives is not None:
            messages.append((channel, "receive", route.receives))
        if route.sends is not None or route.kind == "sse":
            messages.append((channel, "send", route.sends))
        channels[channel] = _channel(route)
    schemas, payloads = _schemas(messages)
    for (channel, action, kind), payload in zip(messages, payloads, strict=True):
        entry = channels[channel]
        assert isinstance(entry, Channel) and entry.messages is not None
        key = MESSAGE_KEYS[action]
        entry.messages[key] = _message(action, kind, payload)
        operations[f"{channel}.{action}"] = Operation(
            action=action,
            channel=Reference(ref=f"#/channels/{channel}"),
            messages=[Reference(ref=f"#/channels/{channel}/messages/{key}")],
            bindings=None if kinds[channel] == "websocket" else SSE_BINDINGS,
        )
    document = AsyncAPI(
        asyncapi="3.0.0",
        info=Info(title=title, version=version),
        defaultContentType="application/json",
        channels=channels,
        operations=operations,
    ).model_dump(mode="json", by_alias=True, exclude_none=True)
    if schemas:
        document["components"] = {"schemas": schemas}
    return document


def asyncapi_page(document: dict[str, Any]) -> str:
    """The document as a small HTML page that needs nothing from elsewhere."""
    e = html.escape
    title = e(document["info"]["title"])
    parts = [
        f"<!doctype html><meta charset=utf-8><title>{title}: AsyncAPI</title>{PAGE_STYLE}"
        f"<h1>{title}</h1><p>AsyncAPI {e(document['asyncapi'])}, as "
        "<a href=asyncapi.json>asyncapi.json</a></p>"
    ]
    operations = list(document.get("operations", {}).values())
    for channel_id, channel in document.get("channels", {}).items():
        parts.append(
            f"<h2><code>{e(channel['address'])}</code></h2><p>{e(channel['description'])}</p>"
        )
        for operation in operations:
            if operation["channel"]["$ref"] != f"#/channels/{channel_id}":
                continue
            message = channel["messages"][operation["messages"][0]["$ref"].rpartition("/")[2]]
            schema = message["payload"]["$ref"].rpartition("/")[2]
            who = "Clients send" if operation["action"] == "receive" else "The server sends"
            parts.append(
                f'<p>{who} <a href="#{e(schema)}">{e(message["name"])}</a> '
                f"({e(message.get('contentType', 'any content'))})</p>"
            )
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        shown = e(json.dumps(schema, indent=2))
        parts.append(f'<h3 id="{e(name)}">{e(name)}</h3><pre>{shown}</pre>')
    return "\n".join(parts)


PAGE_STYLE = (
    "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;"
    "padding:0 1rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style>"
)


def _channel_ids(routes: list[Route]) -> list[tuple[Route, str]]:
    """Each route with a channel id made of its path, unique in the document."""
    taken: set[str] = set()
    result = []
    for route in routes:
        base = re.sub(r"[^A-Za-z0-9]+", "_", route.source.path).strip("_") or "root"
        channel, n = base, 1
        while channel in taken:
            n += 1
            channel = f"{base}_{n}"
        taken.add(channel)
        result.append((route, channel))
    return result


def _channel(route: Route) -> Channel:
    path = route.source.path
    parameters: dict[str, Parameter | Reference] = {
        name: Parameter(description="the rest of the path" if rest else "a path segment")
        for name, rest in _PATH_PARAMETER.findall(path)
    }
    websocket = route.kind == "websocket"
    served = f"served by routes/{route.source.file}"
    kind = f"WebSocket, {served}" if websocket else f"Server-Sent Events (GET), {served}"
    return Channel(
        address=_PATH_PARAMETER.sub(r"{\1}", path),
        title=path,
        description=f"{route.doc}\n\n{kind}" if route.doc else kind,
        parameters=parameters or None,
        messages={},
        bindings=WS_BINDINGS if websocket else None,
    )


def _schemas(messages: list[tuple[str, Action, Any]]) -> tuple[dict[str, Any], list[str]]:
    """`components.schemas`, and each message's payload: a reference into them."""
    inputs: list[tuple[int, JsonSchemaMode, TypeAdapter[Any]]] = [
        (n, "validation" if action == "receive" else "serialization", TypeAdapter(kind))
        for n, (_, action, kind) in enumerate(messages)
        if kind not in (None, Frame)
    ]
    keyed, definitions = TypeAdapter.json_schemas(inputs, ref_template=SCHEMAS + "{model}")
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    by_message = {n: schema for (n, _), schema in keyed.items()}
    payloads = []
    for n, (channel, action, _) in enumerate(messages):
        schema = by_message.get(n)
        if schema is not None and set(schema) == {"$ref"}:  # a model, already in the components
            payloads.append(schema["$ref"])
            continue
        name, schema = UNTYPED[action] if schema is None else (f"{channel}.{action}", schema)
        schemas[name] = schema
        payloads.append(SCHEMAS + name)
    return schemas, payloads


def _message(action: Action, kind: Any, payload: str) -> Message:
    if kind is None or kind is Frame:
        name, content_type = UNTYPED[action][0], None
    else:
        name, content_type = type_name(kind), _content_type(action, kind)
    return Message(name=name, contentType=content_type, payload=Reference(ref=payload))


def _content_type(action: Action, kind: Any) -> str:
    # Frames the server receives are always JSON; what it sends is encoded by its type.
    if action == "send" and kind is str:
        return "text/plain"
    if action == "send" and kind is bytes:
        return "application/octet-stream"
    return "application/json"
