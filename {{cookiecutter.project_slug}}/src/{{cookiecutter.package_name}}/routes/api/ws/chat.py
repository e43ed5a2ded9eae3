"""The chat room: everyone on the topic `chat` sees everyone else's messages."""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


def server(message: str) -> dict[str, str]:
    return {"user": "server", "message": message}


async def open(peer: Peer) -> None:
    await peer.send(server(f"Welcome {peer}!"))
    await peer.publish("chat", server(f"{peer} joined!"))
    await peer.subscribe("chat")


async def message(peer: Peer, message: Message) -> None:
    if "ping" in message.text():
        await peer.send(server("pong"))
        return
    msg = {"user": str(peer), "message": message.text()}
    await peer.send(msg)  # echo
    await peer.publish("chat", msg)


async def close(peer: Peer, code: int, reason: str) -> None:
    await peer.publish("chat", server(f"{peer} left!"))


handler = define_websocket_handler(open=open, message=message, close=close)
