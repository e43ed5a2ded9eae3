"""Subscribes, then answers with an error instead of the stream."""

from fastapi import HTTPException, Request

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(request: Request) -> None:
    stream = create_event_stream(request)
    await stream.subscribe("news")
    raise HTTPException(409, "changed my mind")
