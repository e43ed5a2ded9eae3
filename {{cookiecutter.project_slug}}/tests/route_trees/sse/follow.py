"""A stream that follows the topic `news`."""

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(request: Request) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.subscribe("news")
    await stream.push({"event": "ready", "data": "following"})
    return stream.send()
