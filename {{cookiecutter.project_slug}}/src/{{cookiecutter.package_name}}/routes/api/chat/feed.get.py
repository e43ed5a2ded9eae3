"""The chat room as Server-Sent Events, for clients without WebSockets."""

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(request: Request) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.subscribe("chat")
    await stream.push({"event": "ready", "data": "following chat"})
    return stream.send()
