"""Follows `topic` from `?since=` (or the newest `?last=`), then says whether that was complete.

Each text it receives is published to the others as `{"id": <its id>, "text": ...}`;
the sender is told the id.
"""

from {{ cookiecutter.package_name }}.realtime import Message, Peer, define_websocket_handler


async def open(peer: Peer) -> None:
    query = peer.request.query_params
    since, last = query.get("since"), int(query.get("last", "0"))
    complete = await peer.subscribe(peer.params["topic"], since=since, last=last)
    await peer.send({"type": "subscribed", "complete": complete})


async def message(peer: Peer, message: Message) -> None:
    message_id = await peer.publish(peer.params["topic"], {"text": message.text()}, id_field="id")
    await peer.send({"type": "published", "id": message_id})


handler = define_websocket_handler(open=open, message=message)
