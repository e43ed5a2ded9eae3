"""Hooks that fail; the error hook reports to the peer, plain (sync) hooks record."""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler

CLOSED: list[tuple[str, int]] = []


def open(peer: Peer) -> None:
    peer.context["opened"] = True


async def message(peer: Peer, message: Message) -> None:
    if message.text() == "boom":
        raise ValueError("boom")
    await peer.send(f"ok {message.text()} opened={peer.context['opened']}")


async def error(peer: Peer, exc: Exception) -> None:
    await peer.send(f"error {type(exc).__name__}: {exc}")


def close(peer: Peer, code: int, reason: str) -> None:
    CLOSED.append((peer.id, code))


handler = define_websocket_handler(open=open, message=message, error=error, close=close)
