"""Models with what JSON Schema must carry: nesting, enums, dates, defaults."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Author(BaseModel):
    name: str = Field(min_length=1, max_length=32)


class Say(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    mood: Literal["calm", "loud"] = "calm"


class Said(BaseModel):
    type: Literal["said"] = "said"
    author: Author
    text: str
    time: datetime
    priority: Literal[1, 2, 3] = 1


class Point(BaseModel):
    """A point; <b>a docstring is text</b>, never markup."""

    x: int
    y: int
