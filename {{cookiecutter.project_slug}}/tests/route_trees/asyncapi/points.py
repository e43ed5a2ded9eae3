"""An SSE generator that yields models: each is one event whose data is its JSON."""

from collections.abc import AsyncIterator

from ._models import Point


async def handler(count: int = 3) -> AsyncIterator[Point]:
    for n in range(count):
        yield Point(x=n, y=-n)
