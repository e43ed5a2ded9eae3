"""Pub/sub backends, chosen by the URL's scheme: `SCHEMES` is the one list of them."""

from __future__ import annotations

from collections.abc import Callable

from .base import Backend, OnMessage
from .memory import MemoryBackend

__all__ = ["SCHEMES", "Backend", "MemoryBackend", "OnMessage", "backend_from_url"]


def _redis(url: str, prefix: str) -> Backend:
    from .redis import RedisBackend  # imported on use: memory:// needs no Redis client

    return RedisBackend(url, prefix)


# scheme -> how to make its backend from the URL and a channel prefix
SCHEMES: dict[str, Callable[[str, str], Backend]] = {
    "memory": lambda url, prefix: MemoryBackend(),
    "redis": _redis,
    "rediss": _redis,
}


def backend_from_url(url: str, prefix: str = "") -> Backend:
    """`prefix` starts every channel name in a shared broker (Redis)."""
    make = SCHEMES.get(url.partition("://")[0])
    if make is None:
        raise ValueError(f"unsupported pub/sub URL {url!r}: {describe_schemes()}")
    return make(url, prefix)


def describe_schemes() -> str:
    return "use " + " or ".join(f"{scheme}://" for scheme in SCHEMES)
