"""An SSE stream that follows a topic: a subscriber, but nobody in its presence."""

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(request: Request, topic: str) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.subscribe(topic)
    await stream.push({"event": "ready", "data": "following"})
    return stream.send()
