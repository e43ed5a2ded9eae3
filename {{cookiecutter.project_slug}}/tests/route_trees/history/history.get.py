"""What `topic` keeps after `since`, the newest `limit` of it."""

from {{ cookiecutter.package_name }}.realtime import history


async def handler(
    topic: str, since: str | None = None, limit: int | None = None
) -> list[dict[str, str]]:
    return [
        {"id": entry.id, "data": str(entry.data)} for entry in await history(topic, since, limit)
    ]
