"""The interface a pub/sub backend implements: carry frames between processes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from ..frames import Frame

OnMessage = Callable[[str, Frame], None]


class Backend(ABC):
    """Delivery inside one process is the bus's job; a backend only reaches the others.

    `on_message(topic, frame)` must be called for every frame published on a
    subscribed topic by another process, and never for this process's own.
    """

    @abstractmethod
    async def connect(self, on_message: OnMessage) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None: ...

    @abstractmethod
    async def subscribe(self, topic: str) -> None: ...

    @abstractmethod
    async def unsubscribe(self, topic: str) -> None: ...

    @abstractmethod
    async def publish(self, topic: str, frame: Frame) -> None: ...

    @property
    def reachable(self) -> bool:
        """Whether other processes can be reached now (for the health check)."""
        return True
