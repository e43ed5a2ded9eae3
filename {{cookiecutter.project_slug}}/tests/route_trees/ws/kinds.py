"""Sends back what each kind of value becomes on the wire."""

from pydantic import BaseModel

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


class Point(BaseModel):
    x: int
    y: int


VALUES: dict[str, object] = {
    "list": [1, "two", None],
    "model": Point(x=1, y=2),
    "nested": {"points": [Point(x=3, y=4)], "text": "Zoë ☃"},
    "bytes": b"\x00\xffraw",
    "text": "plain text",
}


async def message(peer: Peer, message: Message) -> None:
    await peer.send(VALUES[message.text()])


handler = define_websocket_handler(message=message)
