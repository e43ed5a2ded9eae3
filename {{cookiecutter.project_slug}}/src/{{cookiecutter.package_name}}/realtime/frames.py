"""Turn what handlers send into frames, once per message whatever the number of receivers."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

__all__ = ["Frame", "as_text", "encode", "encode_for_id", "frame_text", "insert_id", "to_frame"]

TEXT, BINARY = 0x1, 0x2
FIN = 0x80


class Frame(dict[str, Any]):
    """The ASGI `websocket.send` message for one payload, shared by every receiver.

    It also keeps the payload as one WebSocket frame (`wire()`), built on first use:
    the bytes a server writes to every connection that negotiated no extension.
    """

    __slots__ = ("_wire",)
    _wire: bytes

    def wire(self) -> bytes:
        try:
            return self._wire
        except AttributeError:
            text: str | None = self.get("text")
            if text is None:
                self._wire = frame_bytes(BINARY, self["bytes"])
            else:
                self._wire = frame_bytes(TEXT, text.encode())
            return self._wire


def frame_bytes(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame as a server sends it (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        head = bytes((FIN | opcode, size))
    elif size < 1 << 16:
        head = struct.pack("!BBH", FIN | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", FIN | opcode, 127, size)
    return head + payload


def encode(data: Any) -> str | bytes:
    """`str` and `bytes` pass through; anything else becomes one JSON text."""
    if isinstance(data, str | bytes):
        return data
    return to_json(data).decode()


def to_frame(data: Any) -> Frame:
    """The ASGI `websocket.send` message for `data`, shared by every receiver."""
    payload = encode(data)
    if isinstance(payload, bytes):
        return Frame(type="websocket.send", bytes=payload)
    return Frame(type="websocket.send", text=payload)


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
