"""Server code lists the open peers of this process."""

from {{ cookiecutter.package_name }}.realtime import peers


async def handler(namespace: str | None = None) -> list[str]:
    return sorted(str(peer) for peer in peers(namespace))
