"""The running state of the real-time side of one app: bus, limits, open peers and streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from ._shutdown import on_server_shutdown
from .backends.base import HistoryEntry
from .bus import Bus
from .limits import Limits
from .presence import Member, Presence

if TYPE_CHECKING:
    from .peer import Peer


class Closable(Protocol):
    def shut_down(self) -> None:
        """End promptly because the server is stopping."""


class Hub:
    def __init__(self, bus: Bus, limits: Limits) -> None:
        self.bus = bus
        self.limits = limits
        self.presence = Presence(bus.backend.presence_store(limits.presence_ttl))
        self.open: set[Closable] = set()
        self.connections = 0
        self.stopping = False
        self._namespaces: dict[str, set[Peer]] = {}  # the open peers of each namespace

    def join(self, peer: Peer) -> None:
        self._namespaces.setdefault(peer.namespace, set()).add(peer)

    def leave(self, peer: Peer) -> None:
        members = self._namespaces.get(peer.namespace, set())
        members.discard(peer)
        if not members:
            self._namespaces.pop(peer.namespace, None)

    def peers(self, namespace: str | None = None) -> frozenset[Peer]:
        """The open peers of one namespace, or of all."""
        if namespace is not None:
            return frozenset(self._namespaces.get(namespace, ()))
        return frozenset().union(*self._namespaces.values())

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run for the app's lifespan: start the bus, and end every connection on shutdown."""
        await self.bus.start()
        await self.presence.start()
        detach = on_server_shutdown(self.shut_down)
        try:
            yield
        finally:
            detach()
            self.shut_down()
            await self.presence.stop()
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

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "websocket":
            # A server runs each WebSocket session in a task of its own, whose context
            # ends with it: nothing to reset, so no frame of this middleware waits with
            # every connected peer.
            _current.set(self.hub)
            return self.app(scope, receive, send)
        return self._call(scope, receive, send)

    async def _call(self, scope: Scope, receive: Receive, send: Send) -> None:
        # An HTTP request may run in its caller's task (httpx's ASGITransport): reset.
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


async def publish(topic: str, data: Any, *, id_field: str | None = None) -> str | None:
    """Publish from server code (an HTTP route, a background task) to every subscriber.

    Returns the message's id (None without history, or while the broker is unreachable);
    with `id_field`, `data` (a dict or a model) carries its own id under that key.
    """
    return await current_hub().bus.publish(topic, data, id_field=id_field)


async def history(
    topic: str, since: str | None = None, limit: int | None = None
) -> list[HistoryEntry]:
    """The kept messages of `topic` after `since` (all when None), oldest first; the newest
    `limit` of those when given."""
    return (await current_hub().bus.history(topic, since, limit)).entries


async def presence(topic: str) -> list[Member]:
    """The WebSocket peers subscribed to `topic` in every process that shares the PUBSUB_URL."""
    return await current_hub().presence.members(topic)


def peers(namespace: str | None = None) -> frozenset[Peer]:
    """The open peers of this process: all of them, or those of one namespace."""
    return current_hub().peers(namespace)
