"""What the hub holds: subscribers of `news`, open connections, events `big` has sent."""

import sys

from fastapi import Request


async def handler(request: Request) -> dict[str, int]:
    hub = request.app.state.hub
    big = sys.modules[f"{__package__}.big"]
    return {"news": hub.bus.subscribers("news"), "connections": hub.connections, "big": big.SENT}
