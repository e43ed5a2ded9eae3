"""uvicorn coupling for shutdown: the hub ends its connections before uvicorn closes them.

On SIGTERM or SIGINT uvicorn's `Server.handle_exit` sets `should_exit`, and its
main loop then calls `Server.shutdown`, which closes every WebSocket with 1012
and waits, up to its graceful timeout, for every response: an endless SSE stream
never finishes. Wrapping that one server's `shutdown` lets the hub send 1001 and
end its streams first, whatever stopped the server (a signal, a request limit).
The signal handlers stay as they were: a signal's default action, another
server's handlers and sse-starlette's own look at uvicorn's handler all still work.

The server is found as sse-starlette finds it: uvicorn's SIGTERM handler is a
bound method of its `Server`. Under anything else (another server, uvicorn in a
thread, TestClient) nothing is attached, a warning says so, and connections end
with the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uvicorn import Server

logger = logging.getLogger(__name__)
# How long uvicorn's shutdown waits for the hub's close frames: ample for loop steps, short
# beside its own graceful timeout.
CLOSE_GRACE = 0.1


def on_server_shutdown(callback: Callable[[], None]) -> Callable[[], None]:
    """Run `callback` as uvicorn's shutdown starts, before it closes connections.

    Returns the function that detaches it again.
    """
    server = _uvicorn_server()
    if server is None:
        logger.warning(
            "not under uvicorn's signal handling (SIGTERM's handler is %r): on shutdown, "
            "WebSockets and SSE streams end only as the app's lifespan does",
            signal.getsignal(signal.SIGTERM),
        )
        return lambda: None
    original = server.shutdown

    async def shutdown(*args: Any, **kwargs: Any) -> None:
        callback()
        # Let the close frames `callback` queued go out: written at once on the direct way,
        # a few loop steps away on the ASGI path (each peer's writer task sends its own).
        await asyncio.sleep(CLOSE_GRACE)
        await original(*args, **kwargs)

    server.shutdown = shutdown  # type: ignore[method-assign]

    def detach() -> None:
        if vars(server).get("shutdown") is shutdown:
            del server.shutdown

    return detach


def _uvicorn_server() -> Server | None:
    try:
        from uvicorn import Server
    except ImportError:
        return None
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return server if isinstance(server, Server) else None
