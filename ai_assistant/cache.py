"""AI answers in the cache (Redis when configured), read and written so that an unreachable
cache is only a miss.

Whoever gets here was already admitted by the AI rate limit (which fails closed), so the work
goes on without the cache rather than failing the request or the job.
"""

import logging
from typing import TypeVar

from django.core.cache import cache
from pydantic import BaseModel, ValidationError

from fitness.api.errors import BACKEND_OUTAGES, log_outage
from fitness.observability.metrics import AI_CACHE

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


def cached_answer(key: str, schema: type[ModelT], *, cache_name: str) -> ModelT | None:
    """The answer cached under `key`, or None when there is none, the cache is unreachable,
    or it no longer fits `schema` (written by an older version): then the model is asked
    again rather than an answer of the wrong shape served. Each read counts as a hit or a
    miss of `cache_name` in `ai_cache_requests_total`."""
    answer = _read(key, schema)
    AI_CACHE.labels(cache=cache_name, result="miss" if answer is None else "hit").inc()
    return answer


def _read(key: str, schema: type[ModelT]) -> ModelT | None:
    try:
        payload = cache.get(key)
    except BACKEND_OUTAGES as exc:
        log_outage(exc, "AI result cache read")
        return None
    if payload is None:
        return None
    try:
        return schema.model_validate(payload)
    except ValidationError:
        logger.info("Discarding a cached %s that no longer validates", schema.__name__)
        return None


def remember_answer(key: str, answer: BaseModel, *, timeout: int) -> None:
    try:
        cache.set(key, answer.model_dump(mode="json"), timeout=timeout)
    except BACKEND_OUTAGES as exc:
        log_outage(exc, "AI result cache write")
