"""Echoes the client's Last-Event-ID, as a parameter and through the stream."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header, Request

from {{ cookiecutter.package_name }}.realtime import create_event_stream


async def handler(
    request: Request, last_event_id: Annotated[str | None, Header()] = None
) -> AsyncIterator[dict[str, str | None]]:
    yield {"data": {"parameter": last_event_id, "stream": create_event_stream(request).last_event_id}}
