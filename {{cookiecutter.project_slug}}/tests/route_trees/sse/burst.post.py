"""Publishes `count` messages on `news` from server code, all at once (nothing awaited between)."""

from {{ cookiecutter.package_name }}.realtime import publish


async def handler(count: int, size: int = 0) -> None:
    pad = "x" * size
    for n in range(count):
        await publish("news", {"n": n, "pad": pad})
