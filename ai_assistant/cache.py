"""AI answers in the cache (Redis when configured), read and written so that an unreachable
cache is only a miss.

Whoever gets here was already admitted by the AI rate limit (which fails closed), so the work
goes on without the cache rather than failing the request or the job.
"""

import logging
from typing import Any, TypeVar

from django.core.cache import cache
from pydantic import BaseModel, ValidationError

from fitness.api.errors import BACKEND_OUTAGES, log_outage
from fitness.observability.metrics import AI_CACHE

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


def cached_answer(
    key: str, schema: type[ModelT], *, cache_name: str, count_miss: bool = True
) -> ModelT | None:
    """The answer cached under `key`, or None when there is none, the cache is unreachable,
    or it no longer fits `schema` (written by an older version): then the model is asked
    again rather than an answer of the wrong shape served. Each read counts as a hit or a
    miss of `cache_name` in `ai_cache_requests_total`; `count_miss=False` for a look-up
    whose miss is followed by the one that counts (a photo's request, then its job)."""
    answer = _read(key, schema)
    if answer is not None or count_miss:
        AI_CACHE.labels(cache=cache_name, result="miss" if answer is None else "hit").inc()
    return answer


def _read(key: str, schema: type[ModelT]) -> ModelT | None:
    payload = cached_value(key)
    if payload is None:
        return None
    try:
        return schema.model_validate(payload)
    except ValidationError:
        logger.info("Discarding a cached %s that no longer validates", schema.__name__)
        return None


def remember_answer(key: str, answer: BaseModel, *, timeout: int) -> None:
    remember_value(key, answer.model_dump(mode="json"), timeout=timeout)


def cached_value(key: str) -> Any:
    """What is cached under `key`; None when nothing is, or the cache is unreachable."""
    try:
        return cache.get(key)
    except BACKEND_OUTAGES as exc:
        log_outage(exc, "AI result cache read")
        return None


def remember_value(key: str, value: Any, *, timeout: int) -> None:
    try:
        cache.set(key, value, timeout=timeout)
    except BACKEND_OUTAGES as exc:
        log_outage(exc, "AI result cache write")
