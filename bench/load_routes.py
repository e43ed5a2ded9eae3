"""How long a baked app takes to load 1,000 route files.

Run with the baked project's Python: `.venv/bin/python bench/load_routes.py PACKAGE`.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

KINDS = {
    "http": "def handler(id: int = 0) -> dict[str, int]:\n    return {{'id': id}}\n",
    "sse": "async def handler():\n    yield 'x'\n",
    "ws": "from {package}.realtime import define_websocket_handler\n"
    "handler = define_websocket_handler()\n",
}


def write_tree(root: Path, count: int, package: str) -> None:
    for n in range(count):
        kind = ("http", "sse", "ws")[n % 3]
        folder = root / f"area{n % 10}" / f"[p{n % 7}]" if n % 4 == 0 else root / f"area{n % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"r{n}.get.py" if kind == "http" and n % 2 else f"r{n}.py"
        (folder / name).write_text(KINDS[kind].format(package=package))


def main() -> None:
    package = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    realtime = importlib.import_module(f"{package}.realtime")
    app_module = importlib.import_module(f"{package}.app")
    settings = importlib.import_module(f"{package}.settings").Settings(_env_file=None)
    load, app = [], []
    for run in range(5):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / f"tree{run}"
            write_tree(root, count, package)
            start = time.perf_counter()
            routes = realtime.load_routes(root, f"bench_tree_{run}")
            load.append(time.perf_counter() - start)
            start = time.perf_counter()
            app_module.create_app(settings, routes=root)
            app.append(time.perf_counter() - start)
    print(f"{len(routes)} route files")
    print(f"load_routes: median {statistics.median(load) * 1000:.0f} ms (min {min(load) * 1000:.0f})")
    print(f"create_app:  median {statistics.median(app) * 1000:.0f} ms (min {min(app) * 1000:.0f})")


if __name__ == "__main__":
    main()
