# routes/api/ws/points.py
from pydantic import BaseModel

from {{ cookiecutter.package_name }}.realtime import Peer, define_websocket_handler


class Point(BaseModel):
    x: int
    y: int


async def message(peer: Peer, point: Point) -> None:
    await peer.send(Point(x=point.y, y=point.x))


handler = define_websocket_handler(message=message, sends=Point)
