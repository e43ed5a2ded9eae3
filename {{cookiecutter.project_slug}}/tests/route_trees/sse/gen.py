"""One of each thing an SSE generator may yield, then the end."""

from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import ServerSentEvent


async def handler() -> AsyncIterator[Any]:
    yield "plain"
    yield {"event": "obj", "id": 7, "data": {"a": [1, 2]}}
    yield ServerSentEvent(data="sse", event="x")
    yield {"data": "line1\nline2\r\nline3"}
    yield {"event": "bad\r\nname", "id": "i\nd", "data": "clean"}
    yield {"retry": 1500, "data": "retry"}
    yield {"comment": "a note"}
