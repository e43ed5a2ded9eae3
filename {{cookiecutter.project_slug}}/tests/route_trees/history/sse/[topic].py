"""A stream that follows `topic`, resuming after `Last-Event-ID`."""

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(request: Request, topic: str) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.subscribe(topic)
    return stream.send()
