from collections.abc import AsyncIterator


async def handler() -> AsyncIterator[str]:
    yield "first"
    while True:
        # Never yields again: only keep-alive comments follow.
        import asyncio

        await asyncio.sleep(3600)
        yield "never"
