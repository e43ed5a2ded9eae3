"""A push-style stream following the room; it says when it ends."""

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(request: Request) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.subscribe("room")
    stream.on_closed(lambda: print("stream closed", flush=True))
    await stream.push({"event": "ready", "data": "ready"})
    return stream.send()
