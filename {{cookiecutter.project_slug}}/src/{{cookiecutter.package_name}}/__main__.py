"""`python -m {{ cookiecutter.package_name }} serve|routes|asyncapi`."""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from . import app
from .app import ROUTES
from .realtime import RouteError, load_routes
from .realtime.routing import format_table
from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m {{ cookiecutter.package_name }}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (flags win over settings)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--reload", action="store_true", help="restart when a file changes")
    commands.add_parser("routes", help="print the route table")
    commands.add_parser("asyncapi", help="print the AsyncAPI document (as GET /asyncapi.json)")
    args = parser.parse_args(argv)
    try:
        if args.command == "routes":
            print(format_table(load_routes(ROUTES, f"{__package__}.routes")))
            return 0
        if args.command == "asyncapi":
            print(json.dumps(app.asyncapi(app.create_app(Settings())), indent=2))
            return 0
        settings = Settings()
        return run_server(settings, args.host, args.port, args.workers, args.reload)
    except RouteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        # A line per bad value, naming its environment variable (or `.env` entry).
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            print(f"error: {name}: {error['msg']}", file=sys.stderr)
        return 2


def run_server(
    settings: Settings, host: str | None, port: int | None, workers: int, reload: bool
) -> int:
    if workers > 1 and settings.single_process_pubsub:
        print(
            f"error: --workers {workers} needs a shared pub/sub: with PUBSUB_URL=memory:// each "
            "worker would hold only part of every room. Set PUBSUB_URL=redis://host:port/db.",
            file=sys.stderr,
        )
        return 2
    target: str | FastAPI
    if workers == 1 and not reload:
        target = app.create_app(settings)  # route files run once, in this process
    else:
        # Fail before uvicorn's processes do, with the file's name rather than a traceback.
        app.create_app(settings)
        target = f"{__package__}.app:create_app"
    # uvicorn configures its own loggers; ours (realtime's warnings included) share its handler.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    level = settings.log_level.upper()
    log_config["loggers"][__package__] = {"handlers": ["default"], "level": level}
    uvicorn.run(
        target,
        log_config=log_config,
        factory=isinstance(target, str),
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        reload_dirs=[str(Path(__file__).parent)] if reload else None,
        ws=f"{__package__}.realtime._uvicorn:RealtimeWebSocketProtocol",
        ws_per_message_deflate=settings.ws_permessage_deflate,
        ws_max_size=settings.ws_max_message_bytes,
        ws_ping_interval=settings.ws_ping_seconds,
        ws_ping_timeout=settings.ws_ping_seconds,
        timeout_graceful_shutdown=3,
        log_level=settings.log_level,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
