"""Turn what handlers send into frames, once per message whatever the number of receivers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json
from starlette.types import Message as Frame

__all__ = ["Frame", "as_text", "encode", "encode_for_id", "frame_text", "insert_id", "to_frame"]


def encode(data: Any) -> str | bytes:
    """`str` and `bytes` pass through; anything else becomes one JSON text."""
    if isinstance(data, str | bytes):
        return data
    return to_json(data).decode()


def to_frame(data: Any) -> Frame:
    """The ASGI `websocket.send` message for `data`, shared by every receiver."""
    payload = encode(data)
    if isinstance(payload, bytes):
        return {"type": "websocket.send", "bytes": payload}
    return {"type": "websocket.send", "text": payload}


def as_text(payload: str | bytes) -> str:
    """A payload as text, for receivers that only carry text (SSE)."""
    return payload if isinstance(payload, str) else payload.decode("utf-8", errors="replace")


def frame_text(frame: Frame) -> str:
    text: str | None = frame.get("text")
    return as_text(frame["bytes"] if text is None else text)


def encode_for_id(data: Any, field: str) -> str:
    """`data`'s JSON object without `field`, which `insert_id` fills in once the id is known."""
    if "\n" in field:
        raise ValueError(f"id_field must be one line, not {field!r}")
    if isinstance(data, BaseModel):
        fields = data.model_dump(mode="json")
    elif isinstance(data, Mapping):
        fields = dict(data)
    else:
        raise TypeError(f"id_field needs a dict or a pydantic model, not {type(data).__name__}")
    fields.pop(field, None)
    return to_json(fields).decode()


def insert_id(payload: str, field: str, message_id: str | None) -> str:
    """Put `field: message_id` first in the JSON object `payload`, without decoding it."""
    head = to_json({field: message_id}).decode()
    return head if payload == "{}" else head[:-1] + "," + payload[1:]
