"""The application: settings in, FastAPI app out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from .realtime import Bus, Hub, backend_from_url, load_routes, mount
from .realtime.asyncapi import asyncapi_document, asyncapi_page
from .realtime.health import HEALTH_PATH, health_check
from .realtime.hub import CurrentHubMiddleware
from .settings import Settings

HERE = Path(__file__).parent
ROUTES = HERE / "routes"
STATIC = HERE / "static"


def create_hub(settings: Settings) -> Hub:
    backend = backend_from_url(settings.pubsub_url, settings.pubsub_prefix)
    limits = settings.limits()
    bus = Bus(backend, history_size=limits.history_size, history_ttl=limits.history_ttl)
    return Hub(bus, limits)


def create_app(settings: Settings | None = None, routes: Path = ROUTES) -> FastAPI:
    settings = settings or Settings()
    hub = create_hub(settings)
    app = FastAPI(title=settings.app_name, lifespan=lambda _: hub.running())
    app.state.hub = hub
    app.add_middleware(CurrentHubMiddleware, hub=hub)
    # Built-in routes come before the route files, which may not claim their paths.
    healthz = health_check(settings.pubsub_url)
    app.add_api_route(HEALTH_PATH, healthz, methods=["GET"], name="healthz")
    found = load_routes(routes, f"{__package__}.routes")
    # Before the route files' routes, so that none of them (a catch-all) shadows them.
    app.add_api_route("/asyncapi.json", lambda: asyncapi(app), include_in_schema=False)
    app.add_api_route(
        "/asyncapi", lambda: HTMLResponse(asyncapi_page(asyncapi(app))), include_in_schema=False
    )
    app.state.routes = found
    mount(app, found)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
        app.add_api_route("/", lambda: FileResponse(STATIC / "index.html"), include_in_schema=False)
    return app


def asyncapi(app: FastAPI) -> dict[str, Any]:
    """The AsyncAPI document of the app's WebSocket and SSE routes."""
    return asyncapi_document(app.state.routes, title=app.title, version=app.version)
