from typing import Annotated

from fastapi import Depends

from ._helpers import greet


def name() -> str:
    return "dependency"


def handler(who: Annotated[str, Depends(name)]) -> dict[str, str]:
    return {"greeting": greet(who)}


def pickled() -> str:
    return "pickled"
