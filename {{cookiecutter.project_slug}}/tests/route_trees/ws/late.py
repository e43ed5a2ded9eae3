"""The server starts stopping while this handshake is under way."""

from starlette.requests import HTTPConnection

from {{ cookiecutter.package_name }}.realtime import define_websocket_handler
from {{ cookiecutter.package_name }}.realtime.hub import hub_of


def upgrade(request: HTTPConnection) -> None:
    hub_of(request).shut_down()


handler = define_websocket_handler(upgrade=upgrade)
