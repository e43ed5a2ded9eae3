"""Hooks that fail (`?fail=open`, `?fail=close`, or a `boom` message); the error hook reports."""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler

CLOSED: list[tuple[str, int]] = []
ERRORS: list[str] = []  # every exception the error hook was given


def fails(peer: Peer, hook: str) -> None:
    if peer.request.query_params.get("fail") == hook:
        raise ValueError(f"{hook} failed")


def open(peer: Peer) -> None:
    fails(peer, "open")
    peer.context["opened"] = True


async def message(peer: Peer, message: Message) -> None:
    if message.text() == "boom":
        raise ValueError("boom")
    await peer.send(f"ok {message.text()} opened={peer.context.get('opened', False)}")


async def error(peer: Peer, exc: Exception) -> None:
    ERRORS.append(f"{type(exc).__name__}: {exc}")
    await peer.send(f"error {type(exc).__name__}: {exc}")


def close(peer: Peer, code: int, reason: str) -> None:
    CLOSED.append((peer.id, code))
    fails(peer, "close")


handler = define_websocket_handler(open=open, message=message, error=error, close=close)
