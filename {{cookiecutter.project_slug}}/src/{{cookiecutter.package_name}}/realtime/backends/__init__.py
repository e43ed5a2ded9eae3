"""Pub/sub backends, chosen by the URL's scheme."""

from __future__ import annotations

from .base import Backend, OnMessage
from .memory import MemoryBackend

__all__ = ["Backend", "MemoryBackend", "OnMessage", "backend_from_url"]


def backend_from_url(url: str, prefix: str = "") -> Backend:
    """`prefix` starts every channel name in a shared broker (Redis)."""
    scheme = url.partition("://")[0]
    if scheme == "memory":
        return MemoryBackend()
    if scheme in ("redis", "rediss"):
        from .redis import RedisBackend

        backend: Backend = RedisBackend(url, prefix)
        return backend
    raise ValueError(f"unsupported pub/sub URL {url!r}: use memory:// or redis://host:port/db")
