from pydantic import BaseModel


class Greeting(BaseModel):
    name: str


def handler(greeting: Greeting) -> dict[str, str]:
    return {"posted": greeting.name}
