"""Who is in a room, in every worker: each name once."""

from {{ cookiecutter.package_name }}.routes.api.rooms._rooms import Online, online


async def handler(room: str) -> Online:
    return Online(room=room, online=await online(room))
