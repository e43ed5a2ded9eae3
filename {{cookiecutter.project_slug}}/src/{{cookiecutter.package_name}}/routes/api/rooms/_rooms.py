"""What the rooms sample's routes share: each room's two topics and the frames they carry.

A room's texts travel on one topic and its comings and goings on another, so
that replaying the first (all topics keep history) yields `message` frames only.
"""

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from {{ cookiecutter.package_name }}.realtime import presence

NAME_LENGTH = (1, 32)
# How many earlier messages a client that gives no `since` is shown on arrival.
ARRIVAL_REPLAY = 50


def texts(room: str) -> str:
    """The topic of the room's messages: in one order, kept in history."""
    return f"rooms/{room}"


def members(room: str) -> str:
    """The topic of who comes and goes; each peer's presence entry there holds its name."""
    # A room name never holds a "/", so this never is another room's `texts`.
    return f"rooms/{room}/members"


def now() -> datetime:
    return datetime.now(UTC)


class Say(BaseModel):
    """What a client sends: one text."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)


class Said(BaseModel):
    """A text, as everyone in the room gets it (its sender too)."""

    type: Literal["message"] = "message"
    id: str | None = Field(default=None, description="its message id, set as it is published")
    room: str
    user: str
    text: str
    time: datetime = Field(default_factory=now)


class Moved(BaseModel):
    """Someone came into the room or left it: `online` says so already."""

    type: Literal["join", "leave"]
    room: str
    user: str
    time: datetime = Field(default_factory=now)


class Gap(BaseModel):
    """Sent after the replay when `since` is older than the history holds."""

    type: Literal["gap"] = "gap"


class Frame(RootModel[Said | Moved | Gap]):
    """Every frame the room sends is one of these, told apart by its `type`."""


class Online(BaseModel):
    room: str
    online: list[str]


async def online(room: str) -> list[str]:
    """The names in the room in every worker, each once (a name may be connected twice)."""
    return sorted({str(member.data["name"]) for member in await presence(members(room))})
