"""The running state of the real-time side of one app: bus, limits, open peers and streams."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import HTTPConnection

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
        global _current
        await self.bus.start()
        await self.presence.start()
        _current = self
        restore = _on_shutdown_signal(self.shut_down)
        try:
            yield
        finally:
            restore()
            self.shut_down()
            _current = None
            await self.presence.stop()
            await self.bus.stop()

    def shut_down(self) -> None:
        self.stopping = True
        for connection in list(self.open):
            connection.shut_down()


_current: Hub | None = None


def hub_of(connection: HTTPConnection) -> Hub:
    hub: Hub = connection.app.state.hub
    return hub


def current_hub() -> Hub:
    """The hub of the app serving this code, for the server-side functions below."""
    if _current is None:
        raise RuntimeError("publish() needs a running app (inside its lifespan)")
    return _current


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


def _on_shutdown_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Run `callback` as soon as SIGINT or SIGTERM arrives, then let the server handle it.

    uvicorn would otherwise close WebSockets with 1012 and wait for SSE streams
    that never end; acting on the signal lets us say 1001 and end streams first.
    The server hears of the signal one loop step after `callback` ran, once the
    close frames it queued have gone out: told at once, uvicorn may start its own
    shutdown on a tick in between, which a busy loop makes likely.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handle(sig: int, frame: FrameType | None) -> None:
        handler = previous[signal.Signals(sig)]

        def then() -> None:
            callback()
            if callable(handler):
                loop.call_soon(handler, sig, frame)

        loop.call_soon_threadsafe(then)

    for sig in signals:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is handle:
                signal.signal(sig, handler)

    return restore
