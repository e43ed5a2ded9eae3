"""A POST that answers with a stream: an HTTP route, not an SSE channel."""

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(request: Request) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.push("answer")
    await stream.close()
    return stream.send()
