"""A small real-time framework: file routes, crossws-style WebSockets, SSE, pub/sub."""

from .backends import backend_from_url
from .bus import Bus
from .hub import Hub, publish
from .limits import Limits
from .peer import Peer
from .routing import Route, RouteError, load_routes, mount
from .sse import EventStream, create_event_stream
from .websocket import Message, WebSocketHandler, define_websocket_handler

__all__ = [
    "Bus",
    "EventStream",
    "Hub",
    "Limits",
    "Message",
    "Peer",
    "Route",
    "RouteError",
    "WebSocketHandler",
    "backend_from_url",
    "create_event_stream",
    "define_websocket_handler",
    "load_routes",
    "mount",
    "publish",
]
