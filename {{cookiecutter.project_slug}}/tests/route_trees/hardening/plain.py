"""A hand-written sse-starlette response, outside the realtime package's streams."""

import asyncio
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse


async def events() -> AsyncIterator[str]:
    yield "ready"
    await asyncio.Event().wait()


async def handler() -> EventSourceResponse:
    return EventSourceResponse(events())
