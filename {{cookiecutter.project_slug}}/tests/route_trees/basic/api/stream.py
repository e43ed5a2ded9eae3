from collections.abc import AsyncIterator


async def handler(count: int = 2) -> AsyncIterator[str]:
    for n in range(count):
        yield f"event {n}"
