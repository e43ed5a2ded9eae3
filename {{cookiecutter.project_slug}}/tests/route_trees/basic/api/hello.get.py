def handler(name: str = "world") -> dict[str, str]:
    return {"hello": name}
