def handler(id: str) -> dict[str, str]:
    return {"user": id}
