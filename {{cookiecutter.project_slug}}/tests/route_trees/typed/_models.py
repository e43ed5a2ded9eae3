"""The models the typed routes validate into and send."""

from pydantic import BaseModel, ConfigDict, Field


class Point(BaseModel):
    """Extra fields are ignored, as pydantic's default."""

    x: int
    y: int


class StrictPoint(Point):
    model_config = ConfigDict(extra="forbid")


class Said(BaseModel):
    text: str = Field(min_length=1)
