"""What the room's hooks saw, and how many peers are still open in this process."""

from typing import Any

from starlette.requests import Request


async def handler(request: Request) -> dict[str, Any]:
    state = request.app.state
    return {
        "open": len(state.hub.open),
        "closes": getattr(state, "closes", []),
        "drains": getattr(state, "drains", {}),
    }
