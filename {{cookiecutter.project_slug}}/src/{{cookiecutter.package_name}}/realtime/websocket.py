"""WebSocket handlers with crossws' hooks: upgrade, open, message, close, error, drain.

A `message` hook whose second parameter is annotated with a type pydantic can
validate (not `Message`) gets each frame's JSON validated into that type; the
annotation is read once, when the handler is defined.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from .hub import Hub, hub_of
from .limits import TokenBucket, origin_allowed
from .peer import MESSAGE_TOO_BIG, POLICY_VIOLATION, Peer

logger = logging.getLogger(__name__)
T = TypeVar("T")

Result = Awaitable[None] | None
Context = Mapping[str, Any] | None
UpgradeHook = Callable[[HTTPConnection], "Awaitable[Context | Accept] | Context | Accept"]
OpenHook = Callable[[Peer], Result]
# The message is a `Message`, or a value of the type the hook's parameter is annotated with.
MessageHook = Callable[[Peer, Any], Result]
CloseHook = Callable[[Peer, int, str], Result]
ErrorHook = Callable[[Peer, Exception], Result]
DrainHook = Callable[[Peer], Result]


class Message:
    """One frame received from a peer."""

    def __init__(self, data: str | bytes) -> None:
        self.data = data

    def text(self) -> str:
        return self.data if isinstance(self.data, str) else self.data.decode("utf-8")

    def bytes(self) -> bytes:
        return self.data.encode("utf-8") if isinstance(self.data, str) else self.data

    def json(self) -> Any:
        return json.loads(self.data)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Message({self.data!r})"


@dataclass(frozen=True, kw_only=True)
class Accept:
    """What `upgrade` may return to admit the client with more than a context."""

    context: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None  # added to the 101 response
    subprotocol: str | None = None  # one the client offered in Sec-WebSocket-Protocol
    namespace: str | None = None  # `peer.peers` groups by it; the request's path when None


@dataclass(frozen=True, kw_only=True)
class WebSocketHandler:
    """A WebSocket route's hooks, given by keyword: plain or async functions, each optional."""

    upgrade: UpgradeHook | None = None
    open: OpenHook | None = None
    message: MessageHook | None = None
    close: CloseHook | None = None
    error: ErrorHook | None = None
    drain: DrainHook | None = None
    sends: Any = None  # the type of what the route sends, for the AsyncAPI document
    # What frames are validated into before `message` sees them; None: a `Message`.
    receives: Any = field(init=False, default=None)
    _adapter: TypeAdapter[Any] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        receives = message_type(self.message) if self.message else None
        object.__setattr__(self, "receives", receives)
        object.__setattr__(self, "_adapter", None if receives is None else TypeAdapter(receives))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's ASGI app: admit the client, then run its session.

        An ASGI app, not an endpoint function, so that Starlette wraps no exception
        handling around each session: that wrapper would hold about 2.5 kB per peer
        for as long as it is connected, and every hook's error is handled here.
        """
        websocket = WebSocket(scope, receive, send)
        hub = hub_of(websocket)
        refusal = _refusal(websocket, hub)
        if refusal is not None:
            await _deny(websocket, *refusal)
            return
        hub.connections += 1
        try:
            try:
                accept = await self._admit(websocket)
            except HTTPException as exc:
                await _deny(websocket, exc.status_code, exc.detail, exc.headers)
                return
            except Exception:
                # No peer exists yet for the error hook: log, and refuse the handshake.
                logger.exception("upgrade hook failed for %s", websocket.url.path)
                await _deny(websocket, 500, "upgrade failed")
                return
            headers = [(k.encode(), v.encode()) for k, v in (accept.headers or {}).items()]
            await websocket.accept(accept.subprotocol, headers)
            namespace = accept.namespace or websocket.url.path
            drain = self._on_drain if self.drain else None
            peer = Peer(websocket, hub, dict(accept.context or {}), namespace, drain=drain)
            await self._session(peer, hub)
        finally:
            hub.connections -= 1

    async def _admit(self, websocket: WebSocket) -> Accept:
        """What the upgrade hook decided; raises to refuse the handshake."""
        result = await _maybe_await(self.upgrade(websocket)) if self.upgrade else None
        if not isinstance(result, Accept):
            if not isinstance(result, Mapping | None):
                raise TypeError(f"upgrade returned {type(result).__name__}, not a dict or Accept")
            result = Accept(context=result)
        offered = websocket.scope.get("subprotocols", [])
        if result.subprotocol is not None and result.subprotocol not in offered:
            raise ValueError(
                f"upgrade chose subprotocol {result.subprotocol!r}, which the client did not "
                f"offer (it offered {offered})"
            )
        return result

    async def _session(self, peer: Peer, hub: Hub) -> None:
        hub.open.add(peer)
        hub.join(peer)
        if hub.stopping:  # the signal came while the handshake was under way
            peer.shut_down()
        limits = hub.limits
        bucket = TokenBucket(limits.ws_rate_limit)
        code, reason = 1005, ""
        try:
            await self._run(self.open, peer)
            while True:
                event = await peer.receive()
                if event["type"] == "websocket.disconnect":
                    code, reason = peer.closed_with(event)
                    break
                text = event.get("text")
                data: str | bytes = text if text is not None else event["bytes"]
                if peer.closing:
                    continue
                if _size(data, limits.ws_max_message_bytes) > limits.ws_max_message_bytes:
                    peer._close_now(MESSAGE_TOO_BIG, "message too big")
                elif not bucket.take():
                    peer._close_now(POLICY_VIOLATION, "rate limit exceeded")
                else:
                    await self._receive(peer, data)
        finally:
            hub.open.discard(peer)
            hub.leave(peer)
            await peer.finish()
            await self._run(self.close, peer, code, reason)

    async def _on_drain(self, peer: Peer) -> None:
        await self._run(self.drain, peer)

    async def _receive(self, peer: Peer, data: str | bytes) -> None:
        if self._adapter is None:
            await self._run(self.message, peer, Message(data))
            return
        try:
            value = self._adapter.validate_json(data)
        except ValidationError as exc:  # the client's mistake, not the server's: not logged
            if self.error is not None:
                await self._run(self.error, peer, exc)
            else:
                detail = json.loads(exc.json(include_url=False))
                await peer.send({"error": "invalid message", "detail": detail})
            return
        await self._run(self.message, peer, value)

    async def _run(self, hook: Callable[..., Result] | None, peer: Peer, *args: Any) -> None:
        """Run a hook; its exception goes to `error` and the log, never further."""
        if hook is None:
            return
        try:
            await _maybe_await(hook(peer, *args))
        except Exception as exc:
            logger.exception("%s hook failed for peer %s", hook.__name__, peer)
            if self.error is not None and hook is not self.error:
                await self._run(self.error, peer, exc)


# crossws' `defineWebSocketHandler({...})`: the hooks are the fields above, and only there.
define_websocket_handler = WebSocketHandler


def message_type(hook: Callable[..., Any]) -> Any:
    """The type a `message` hook's frames are validated into, or None for a `Message`."""
    try:
        parameters = list(inspect.signature(hook, eval_str=True).parameters.values())
    except NameError as exc:
        name = getattr(hook, "__qualname__", repr(hook))
        raise TypeError(f"{name}: cannot resolve its annotations: {exc}") from exc
    if len(parameters) < 2:
        return None
    annotation = parameters[1].annotation
    return None if annotation in (inspect.Parameter.empty, Message, Any) else annotation


def _refusal(websocket: WebSocket, hub: Hub) -> tuple[int, str] | None:
    limits = hub.limits
    headers = websocket.headers
    if not origin_allowed(headers.get("origin"), headers.get("host"), limits.allowed_origins):
        return 403, "origin not allowed"
    if hub.stopping:
        return 503, "server shutting down"
    if hub.connections >= limits.max_connections:
        return 503, "too many connections"
    return None


async def _deny(
    websocket: WebSocket, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> None:
    await websocket.send_denial_response(PlainTextResponse(detail, status, headers=headers))


def _size(data: str | bytes, limit: int) -> int:
    # A str of n characters is n to 4n bytes in UTF-8: encode only when it matters.
    if isinstance(data, str) and len(data) * 4 > limit:
        return len(data.encode("utf-8"))
    return len(data)


async def _maybe_await(value: Awaitable[T] | T) -> T:
    if inspect.isawaitable(value):
        return await value
    return value
