"""Reading AI answers back from the cache (Redis when configured)."""

import logging
from typing import TypeVar

from django.core.cache import cache
from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


def cached_answer(key: str, schema: type[ModelT]) -> ModelT | None:
    """The answer cached under `key`, or None when there is none or it no longer fits
    `schema` (written by an older version): then the model is asked again rather than an
    answer of the wrong shape served."""
    payload = cache.get(key)
    if payload is None:
        return None
    try:
        return schema.model_validate(payload)
    except ValidationError:
        logger.info("Discarding a cached %s that no longer validates", schema.__name__)
        return None
