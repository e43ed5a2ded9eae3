"""Remove the files of the options the user turned off, then say what to do next.

Stdlib only: this runs under whatever Python runs cookiecutter, inside the new project.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# The answers as one JSON string literal; see pre_gen_project.py.
ANSWERS: dict[str, object] = json.loads({{cookiecutter | tojson | tojson}})  # noqa: F821

# Each option and the paths it owns, removed when the option is false.
OWNED: dict[str, tuple[str, ...]] = {
    "include_examples": (
        "src/{package}/routes/api/ws/chat.py",
        "src/{package}/routes/api/sse.py",
        "src/{package}/routes/api/chat",
        "src/{package}/routes/api/ws/rooms",
        "src/{package}/routes/api/rooms",
        "src/{package}/static/app.js",
        "tests/test_chat.py",
        "tests/test_ticker.py",
        "tests/test_feed.py",
        "tests/test_chat_properties.py",
        "tests/test_asyncapi_samples.py",
        "tests/test_rooms.py",
    ),
    "include_demo_page": (
        "src/{package}/static",
        "tests/test_demo_page.py",
    ),
}


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_empty_dirs(root: Path) -> None:
    """Remove the folders under root (not root itself) that removals left empty."""
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def main() -> None:
    project = Path.cwd()
    package = str(ANSWERS["package_name"])
    for option, paths in OWNED.items():
        if not ANSWERS[option]:
            for path in paths:
                remove(project / path.format(package=package))
    routes = project / "src" / package / "routes"
    if routes.is_dir():
        remove_empty_dirs(routes)

    print(next_steps(str(ANSWERS["project_slug"]), str(ANSWERS["port"])))


def next_steps(slug: str, port: str) -> str:
    steps = [
        (f"cd {slug}", ""),
        ("make dev", f"serve on http://127.0.0.1:{port} with reload"),
        ("make test", "run the tests"),
        ("docker compose up --build", "2 workers and Redis in containers (make lock first)"),
    ]
    width = max(len(command) for command, what in steps if what)
    lines = [f"    {command:<{width}}  # {what}" if what else f"    {command}" for command, what in steps]
    return f"\nCreated {slug}. Next steps:\n\n" + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
