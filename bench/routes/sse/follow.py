"""A stream that follows the relay's topic: every text a peer sends becomes one event.

Loaded by `load_routes` as `<package>.bench_routes.sse.follow`, hence the three dots.
"""

from fastapi import Request
from sse_starlette import EventSourceResponse

from ...realtime import create_event_stream


async def handler(request: Request) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.subscribe("bench")
    return stream.send()
