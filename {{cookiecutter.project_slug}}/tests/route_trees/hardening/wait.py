"""A generator stream that says it is ready, then waits; it says when it ends."""

import asyncio
from collections.abc import AsyncIterator


async def handler() -> AsyncIterator[str]:
    try:
        yield "ready"
        await asyncio.Event().wait()
    finally:
        print("stream closed", flush=True)
