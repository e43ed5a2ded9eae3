"""The application: settings in, FastAPI app out."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from .realtime import Bus, Hub, backend_from_url, load_routes, mount
from .settings import Settings

HERE = Path(__file__).parent
ROUTES = HERE / "routes"
STATIC = HERE / "static"


def create_hub(settings: Settings) -> Hub:
    backend = backend_from_url(settings.pubsub_url, settings.pubsub_prefix)
    return Hub(Bus(backend), settings.limits())


def create_app(settings: Settings | None = None, routes: Path = ROUTES) -> FastAPI:
    settings = settings or Settings()
    hub = create_hub(settings)
    app = FastAPI(title=settings.app_name, lifespan=lambda _: hub.running())
    app.state.hub = hub
    # Route modules are named after their files, under the package that holds them.
    package = f"{__package__}.routes" if routes == ROUTES else f"{routes.name}_routes"
    mount(app, load_routes(routes, package))
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
        app.add_api_route("/", lambda: FileResponse(STATIC / "index.html"), include_in_schema=False)
    return app
