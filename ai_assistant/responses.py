"""The plan's `AIResponse<T>`, the envelope of every AI result the API returns, whichever
feature produced it (food recognition, form check, chat, recommendations)."""

import time
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

DataT = TypeVar("DataT", bound=BaseModel)


class AIResultSource(StrEnum):
    GEMINI = "gemini"  # answered by the model just now
    CACHE = "cache"  # the same question was answered recently
    RULES = "rules"  # computed without a model


class AIResponse(BaseModel, Generic[DataT]):
    """The plan's `AIResponse<T>`: every AI result the API returns is wrapped in it."""

    data: DataT
    confidence: float = Field(ge=0, le=1)
    processing_time: float = Field(description="Seconds the server spent on the request.")
    source: AIResultSource


def seconds_since(started: float) -> float:
    """`processing_time` of a request that began at `time.monotonic()` = `started`."""
    return round(time.monotonic() - started, 3)
