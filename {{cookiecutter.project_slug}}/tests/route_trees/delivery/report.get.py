"""What the room's hooks saw, once `closes` peers have closed (10 s at most), and how
many peers are still open in this process."""

import asyncio
from typing import Any

from starlette.requests import Request

from ._traces import traces


async def handler(request: Request, closes: int = 0) -> dict[str, Any]:
    state = traces(request.app.state)
    async with asyncio.timeout(10):
        while len(state.closes) < closes:
            state.changed.clear()
            await state.changed.wait()
    return {"open": len(state.hub.open), "closes": state.closes, "drains": state.drains}
