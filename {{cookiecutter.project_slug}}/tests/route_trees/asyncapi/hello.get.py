"""An HTTP route: not a channel."""


async def handler() -> dict[str, str]:
    return {"hello": "world"}
