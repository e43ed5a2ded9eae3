"""A catch-all, which must not shadow /asyncapi.json."""


async def handler(rest: str) -> dict[str, str]:
    return {"caught": rest}
