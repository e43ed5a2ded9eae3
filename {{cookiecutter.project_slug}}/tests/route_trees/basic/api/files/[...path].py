def handler(path: str) -> dict[str, str]:
    return {"path": path}
