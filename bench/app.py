"""The generated app as served, plus the relay route of `routes/` (uvicorn factory `app:create`).

The package comes from $BENCH_PACKAGE; settings from the environment, as in production.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

ROUTES = Path(__file__).parent / "routes"


def create() -> Any:
    package = os.environ.get("BENCH_PACKAGE", "realtime_app")
    app_module = importlib.import_module(f"{package}.app")
    realtime = importlib.import_module(f"{package}.realtime")
    settings = importlib.import_module(f"{package}.settings").Settings(_env_file=None)
    app = app_module.create_app(settings)  # its own routes: the ticker at /api/sse
    # A package of their own beside the app's routes, so `from ...realtime` reaches the app's.
    realtime.mount(app, realtime.load_routes(ROUTES, f"{package}.bench_routes"))
    return app
