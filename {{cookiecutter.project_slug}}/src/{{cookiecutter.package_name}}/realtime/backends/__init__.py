"""Pub/sub backends, chosen by the URL's scheme."""

from __future__ import annotations

from .base import Backend, OnMessage
from .memory import MemoryBackend

__all__ = ["Backend", "MemoryBackend", "OnMessage", "backend_from_url"]


def backend_from_url(url: str) -> Backend:
    scheme = url.partition("://")[0]
    if scheme == "memory":
        return MemoryBackend()
    if scheme in ("redis", "rediss"):
        from .redis import RedisBackend

        backend: Backend = RedisBackend(url)
        return backend
    raise ValueError(f"unsupported pub/sub URL {url!r}: use memory:// or redis://host:port/db")
