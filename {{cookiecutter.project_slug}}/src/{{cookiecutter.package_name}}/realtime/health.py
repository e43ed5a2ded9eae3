"""`GET /healthz`: 200 while the process serves, 503 while its pub/sub backend is unreachable.

Load balancers and `docker compose` poll it. A process that cannot reach Redis
still serves its own clients (see backends/redis.py), but its messages reach no
other process: 503 says so, with a reason naming the backend, never its password.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from .hub import hub_of

HEALTH_PATH = "/healthz"


def health_check(pubsub_url: str) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The endpoint for an app whose hub uses `pubsub_url`."""
    parts = urlsplit(pubsub_url)
    where = f"{parts.hostname}:{parts.port}" if parts.hostname and parts.port else parts.hostname
    backend = f"{parts.scheme}://{where or ''}"

    async def healthz(request: Request) -> JSONResponse:
        if hub_of(request).bus.backend.reachable:
            return JSONResponse({"status": "ok"})
        reason = f"pub/sub backend {backend} (PUBSUB_URL) is unreachable"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)

    return healthz
