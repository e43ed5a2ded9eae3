"""Server code publishes with the same bus as peers."""

from {{ cookiecutter.package_name }}.realtime import publish


async def handler(text: str) -> dict[str, str]:
    await publish("room", {"announcement": text})
    return {"published": text}
