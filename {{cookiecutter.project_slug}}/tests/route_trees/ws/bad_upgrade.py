"""An upgrade hook that fails in the two ways a handler can get wrong."""

from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import define_websocket_handler


def upgrade(request: HTTPConnection) -> object:
    if request.query_params.get("kind") == "list":
        return ["not", "a", "dict"]
    raise RuntimeError("upgrade bug")


handler = define_websocket_handler(upgrade=upgrade)
