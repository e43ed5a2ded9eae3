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
    ws_send_buffer_bytes: int = 12 * 1024 * 1024  # unsent bytes per peer; see docs/design.md
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
    Origins compare as browsers mean them: case aside, and with or without the
    scheme's default port (`https://App.example:443` is `https://app.example`).
    """
    if origin is None:
        return True
    allowed = tuple(allowed)
    if "*" in allowed or _normal(origin) in {_normal(entry) for entry in allowed}:
        return True
    scheme = urlsplit(origin).scheme.lower()
    return host is not None and _address(origin, scheme) == _address(f"//{host}", scheme)


# The port an origin without one means.
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _normal(origin: str) -> str:
    """`scheme://host[:port]`, lowercase, without the default port or a trailing `/`."""
    scheme = urlsplit(origin).scheme.lower()
    address = _address(origin, scheme)
    if not scheme or address is None:
        return origin.strip().rstrip("/").lower()  # `null`, or no origin at all
    host, port = address
    return f"{scheme}://{host}" + ("" if port == _DEFAULT_PORTS.get(scheme) else f":{port}")


def _address(url: str, scheme: str) -> tuple[str, int | None] | None:
    """The host (lowercase, IPv6 in brackets) and port that `url` names."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:  # not a port number
        return None
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return host, port if port is not None else _DEFAULT_PORTS.get(scheme)


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
