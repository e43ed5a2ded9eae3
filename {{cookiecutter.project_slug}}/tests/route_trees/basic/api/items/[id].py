def handler(id: int) -> dict[str, int]:
    return {"id": id}
