"""The ticker: one event every `interval` seconds, resuming after `Last-Event-ID`."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Header, Query
from pydantic import BaseModel

from {{ cookiecutter.package_name }}.realtime import SSEEvent


class Tick(BaseModel):
    count: int
    time: datetime


async def handler(
    interval: Annotated[float, Query(ge=0.1, le=60)] = 1.0,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
    # For a brand-new EventSource, which cannot set headers: the demo page passes
    # the last id it saw here. The header, sent by the browser's own reconnects, wins.
    resume_after: Annotated[int | None, Query(alias="last_event_id", ge=0)] = None,
) -> AsyncIterator[SSEEvent[Tick]]:
    count = (last_event_id if last_event_id is not None else resume_after or 0) + 1
    while True:
        yield {"event": "tick", "id": count, "data": Tick(count=count, time=datetime.now(UTC))}
        count += 1
        await asyncio.sleep(interval)
