from {{ cookiecutter.package_name }}.realtime import publish


async def handler(text: str) -> None:
    await publish("news", {"text": text})
