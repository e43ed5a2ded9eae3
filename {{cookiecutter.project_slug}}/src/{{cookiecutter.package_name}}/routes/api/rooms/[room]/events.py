"""A room's messages as Server-Sent Events, for clients without WebSockets.

Each event's id is its message id: an EventSource that reconnects with
`Last-Event-ID` (or a new one given `?last_event_id=`) gets what it missed.
"""

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import create_event_stream
from {{ cookiecutter.package_name }}.routes.api.rooms._rooms import texts


async def handler(request: Request, room: str) -> EventSourceResponse:
    stream = create_event_stream(request)
    await stream.subscribe(texts(room))
    return stream.send()
