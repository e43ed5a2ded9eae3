"""A small real-time framework: file routes, crossws-style WebSockets, SSE, pub/sub."""

from .backends import backend_from_url
from .backends.base import HistoryEntry
from .bus import Bus
from .hub import Hub, history, peers, presence, publish
from .limits import Limits
from .peer import Peer
from .presence import Member
from .routing import Route, RouteError, load_routes, mount
from .sse import EventStream, SSEEvent, create_event_stream
from .websocket import (
    Accept,
    Message,
    WebSocketHandler,
    define_websocket_handler,
)

__all__ = [
    "Accept",
    "Bus",
    "EventStream",
    "HistoryEntry",
    "Hub",
    "Limits",
    "Member",
    "Message",
    "Peer",
    "Route",
    "RouteError",
    "SSEEvent",
    "WebSocketHandler",
    "backend_from_url",
    "create_event_stream",
    "define_websocket_handler",
    "history",
    "load_routes",
    "mount",
    "peers",
    "presence",
    "publish",
]
