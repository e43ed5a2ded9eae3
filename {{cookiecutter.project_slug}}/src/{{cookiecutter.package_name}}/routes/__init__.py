"""File-based routes: each file here serves the URL of its path.

`api/ws/chat.py` → `/api/ws/chat`; `index.py` → its folder; `[id].py` → `{id}`;
`[...path].py` → `{path:path}`; `hello.get.py` → GET only; `(group)/` adds
nothing to the URL; names starting with `_` are not routes. Each file exports
`handler`: `define_websocket_handler(...)`, an async generator (SSE) or a
function (an HTTP path operation with FastAPI's usual parameters).
"""
