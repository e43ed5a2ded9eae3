"""The limits a public real-time endpoint needs, as pure functions and small objects."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Each limit's one default, named as its environment variable (`WS_RATE_LIMIT`)."""

    ws_max_message_bytes: int = 64 * 1024
    ws_send_queue: int = 256
    ws_send_buffer_bytes: int = 16 * 1024 * 1024  # unsent bytes per peer; see docs/design.md
    ws_rate_limit: float = 50.0
    max_connections: int = 10_000
    allowed_origins: tuple[str, ...] = ()
    sse_ping_seconds: float = 15.0
    history_size: int = 100  # messages kept per topic; 0 keeps none
    history_ttl: float = 300.0  # seconds a kept message lives
    presence_ttl: float = 30.0  # seconds before a silent process drops out of presence


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """Browsers always send `Origin`; a handshake from another site must be refused.

    No `Origin` means a non-browser client, which could forge one anyway.
    The server's own origin is the one whose host matches the `Host` header;
    the scheme is not compared, since a TLS-terminating proxy changes it.
    """
    if origin is None:
        return True
    allowed = tuple(allowed)
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self.tokens = self.burst
        self.clock = clock
        self.updated = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
