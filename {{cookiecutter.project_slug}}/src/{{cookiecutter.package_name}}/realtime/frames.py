"""Turn what handlers send into frames, once per message whatever the number of receivers."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.types import Message as Frame

__all__ = ["Frame", "as_text", "encode", "frame_text", "to_frame"]


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
