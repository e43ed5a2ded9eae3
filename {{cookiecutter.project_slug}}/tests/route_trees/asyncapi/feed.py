"""A push-style stream: an SSE channel whose data is not declared."""

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(request: Request) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.push("hello")
    await stream.close()
    return stream.send()
