"""What the room's hooks saw, kept in `app.state` for `report.get.py`."""

import asyncio
import time
from typing import Any

from starlette.datastructures import State


def traces(state: State) -> Any:
    if not hasattr(state, "closes"):
        state.closes, state.drains, state.changed = [], {}, asyncio.Event()
    return state


def record_close(state: State, peer: str, code: int, reason: str) -> None:
    traced = traces(state)
    traced.closes.append({"peer": peer, "code": code, "reason": reason, "at": time.monotonic()})
    traced.changed.set()
