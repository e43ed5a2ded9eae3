"""h3's push style: a task pushes, `on_closed` records who ended the stream."""

import asyncio
import threading

from fastapi import Request
from sse_starlette import EventSourceResponse

from {{ cookiecutter.package_name }}.realtime import EventStream, create_event_stream

CLOSED = threading.Event()
TASKS: set[asyncio.Task[None]] = set()


async def feed(stream: EventStream, count: int, close: bool) -> None:
    for n in range(count):
        await stream.push({"id": n, "data": f"push {n}"})
    if close:
        await stream.close()
        await stream.push("pushed after close: never sent")


async def handler(request: Request, count: int = 3, close: bool = True) -> EventSourceResponse:
    stream = create_event_stream(request)
    stream.on_closed(CLOSED.set)
    task = asyncio.create_task(feed(stream, count, close))
    TASKS.add(task)
    task.add_done_callback(TASKS.discard)
    return stream.send()
