def handler() -> dict[str, str]:
    return {"route": "readme"}
