"""The running state of the real-time side of one app: bus, limits, open peers and streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from ._shutdown import on_server_shutdown
from .bus import Bus
from .limits import Limits


class Closable(Protocol):
    def shut_down(self) -> None:
        """End promptly because the server is stopping."""


class Hub:
    def __init__(self, bus: Bus, limits: Limits) -> None:
        self.bus = bus
        self.limits = limits
        self.open: set[Closable] = set()
        self.connections = 0
        self.stopping = False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run for the app's lifespan: start the bus, and end every connection on shutdown."""
        await self.bus.start()
        detach = on_server_shutdown(self.shut_down)
        try:
            yield
        finally:
            detach()
            self.shut_down()
            await self.bus.stop()

    def shut_down(self) -> None:
        self.stopping = True
        for connection in list(self.open):
            connection.shut_down()


# The hub of the app whose ASGI call (a connection's, or the lifespan's) runs this code.
# A context variable, not a global: two apps in one process each see their own.
_current: ContextVar[Hub] = ContextVar("current_hub")


class CurrentHubMiddleware:
    """Makes `hub` the current hub for every call the app serves, its lifespan included.

    Tasks copy the context they start in, so a task started from a request, a
    hook or the lifespan keeps seeing this app's hub.
    """

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _current.set(self.hub)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def hub_of(connection: HTTPConnection) -> Hub:
    hub: Hub = connection.app.state.hub
    return hub


def current_hub() -> Hub:
    """The hub of the app serving this code, for the server-side functions below."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError(
            "no app is serving this code: publish() and the other server-side functions work "
            "in a route, a hook, or a task started from one or from the app's lifespan"
        ) from None


async def publish(topic: str, data: Any) -> None:
    """Publish from server code (an HTTP route, a background task) to every subscriber."""
    await current_hub().bus.publish(topic, data)
