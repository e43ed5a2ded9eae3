"""The chat room: everyone on the topic `chat` sees everyone else's messages."""

from pydantic import BaseModel

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


class ChatMessage(BaseModel):
    """What every peer is sent: from another peer, or from the server."""

    user: str
    message: str


def server(message: str) -> ChatMessage:
    return ChatMessage(user="server", message=message)


async def open(peer: Peer) -> None:
    await peer.send(server(f"Welcome {peer}!"))
    await peer.publish("chat", server(f"{peer} joined!"))
    await peer.subscribe("chat")


async def message(peer: Peer, message: Message) -> None:
    if "ping" in message.text():
        await peer.send(server("pong"))
        return
    msg = ChatMessage(user=str(peer), message=message.text())
    await peer.send(msg)  # echo
    await peer.publish("chat", msg)


async def close(peer: Peer, code: int, reason: str) -> None:
    await peer.publish("chat", server(f"{peer} left!"))


# Clients send plain text (`message` takes any frame); the room sends ChatMessage JSON.
handler = define_websocket_handler(open=open, message=message, close=close, sends=ChatMessage)
