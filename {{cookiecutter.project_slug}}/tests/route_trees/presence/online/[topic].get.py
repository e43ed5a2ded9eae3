"""`presence(topic)` as JSON: what every process sharing the PUBSUB_URL has in it."""

from dataclasses import asdict
from typing import Any

from {{ cookiecutter.package_name }}.realtime import presence


async def handler(topic: str) -> list[dict[str, Any]]:
    return [asdict(member) for member in await presence(topic)]
