"""`memory://`: one process, so there is nobody else to reach."""

from __future__ import annotations

from ..frames import Frame
from .base import Backend, OnMessage


class MemoryBackend(Backend):
    async def connect(self, on_message: OnMessage) -> None:
        pass

    async def disconnect(self) -> None:
        pass

    async def subscribe(self, topic: str) -> None:
        pass

    async def unsubscribe(self, topic: str) -> None:
        pass

    async def publish(self, topic: str, frame: Frame) -> None:
        pass
