"""A WebSocket route with no message hook and no `sends`: a channel with no operation."""

from {{ cookiecutter.package_name }}.realtime import define_websocket_handler

handler = define_websocket_handler()
