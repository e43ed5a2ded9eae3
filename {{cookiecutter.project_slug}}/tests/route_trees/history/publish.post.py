"""Server code publishes `{"id": <its id>, "text": ...}` and answers with the id."""

from {{ cookiecutter.package_name }}.realtime import publish


async def handler(topic: str, text: str) -> dict[str, str | None]:
    return {"id": await publish(topic, {"text": text}, id_field="id")}
