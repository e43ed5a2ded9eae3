def handler() -> dict[str, str]:
    return {"route": "api index"}
