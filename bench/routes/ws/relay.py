"""The fan-out under test: every text a peer sends reaches every other peer, unchanged.

Loaded by `load_routes` as `<package>.bench_routes.ws.relay`, hence the three dots.
"""

from ...realtime import Message, Peer, define_websocket_handler


async def open(peer: Peer) -> None:
    await peer.subscribe("bench")


async def message(peer: Peer, message: Message) -> None:
    await peer.publish("bench", message.text())


handler = define_websocket_handler(open=open, message=message)
