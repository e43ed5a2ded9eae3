"""Server code publishing a burst: `count` messages of `size` bytes, as fast as it can."""

from {{ cookiecutter.package_name }}.realtime import publish


async def handler(count: int, size: int) -> dict[str, int]:
    pad = "x" * max(0, size - 7)
    for n in range(count):
        await publish("room", f"{n:06d} {pad}")
    return {"published": count}
