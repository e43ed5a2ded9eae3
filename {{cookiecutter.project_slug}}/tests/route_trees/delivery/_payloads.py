"""What `payloads` sends: each kind of frame, and each size where the header changes."""

from typing import Any

PAYLOADS: list[Any] = [
    "plain text",
    b"\x00\xffbinary",
    {"json": [1, "two", None], "nested": {"x": 1.5}},
    "Zoë ☃ 日本語 🎉",
    "",
    b"",
    "t" * 125,
    b"b" * 126,
    "u" * 65_535,
    b"v" * 65_536,
    b"\x01" * 1_000_000,
]
