"""A generator of 64 KiB events, more than a client that stops reading can buffer."""

import asyncio
from collections.abc import AsyncIterator

BLOCKS = 200
SENT = 0  # events the server has taken, read through /state


async def handler() -> AsyncIterator[str]:
    global SENT
    for _ in range(BLOCKS):
        yield "x" * 65536
        SENT += 1
    await asyncio.Event().wait()
    yield "never"
