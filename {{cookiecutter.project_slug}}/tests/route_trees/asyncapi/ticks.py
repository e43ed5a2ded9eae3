"""An SSE generator of named events with ids, typed by their data."""

from collections.abc import AsyncIterator

from {{ cookiecutter.package_name }}.realtime import SSEEvent

from ._models import Point


async def handler() -> AsyncIterator[SSEEvent[Point]]:
    for n in range(2):
        yield {"event": "point", "id": n, "data": Point(x=n, y=n)}
