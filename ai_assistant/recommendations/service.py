"""Food and workout recommendations: from the model when one is configured, else (or when it
fails, or the user's allowance is used up) from the rules, which always answer.

A model's answer is cached per user until the end of their local day. The cache key holds a
fingerprint of the user's data (count and latest change of their food logs and of their
workouts, and of their profile), so a new log, workout, edit or deletion makes the next
request ask again, without the food and workout apps having to know about this cache.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from pydantic import BaseModel, ValidationError

from accounts.models import User
from accounts.selectors import user_zone
from ai_assistant.client import get_ai_client
from ai_assistant.config import AIServiceConfig
from ai_assistant.errors import AIError
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.personal_context import Snapshot, build_snapshot
from ai_assistant.recommendations import food_rules, prompts, workout_rules
from ai_assistant.recommendations.schemas import (
    FoodRecommendationsResponse,
    MealSuggestions,
    WorkoutRecommendationsResponse,
    WorkoutSuggestions,
)
from ai_assistant.responses import AIResponse, AIResultSource
from analytics.events import ServerEvent
from analytics.services import track
from fitness.observability.metrics import AI_CACHE
from fitness.timeutils import start_of_day
from food import selectors as food_selectors
from rollout import features
from rollout.features import Feature
from workouts import selectors as workout_selectors

logger = logging.getLogger(__name__)

# After a failed model call the rules' answer is kept this long, so that an outage does
# not make every request wait for the model to fail again.
FALLBACK_TTL_SECONDS = 60
RATE_LIMIT_SCOPE = "recommendations"


@dataclass(frozen=True)
class _Kind:
    name: str
    answer: type[BaseModel]  # what the model is asked for: suggestions + confidence
    response: type[AIResponse]
    rules: Callable[[Snapshot], tuple[list[Any], float]]
    instruction: Callable[[Snapshot], str]


FOOD = _Kind(
    "food", MealSuggestions, FoodRecommendationsResponse, food_rules.suggest_meals, prompts.food
)
WORKOUT = _Kind(
    "workout",
    WorkoutSuggestions,
    WorkoutRecommendationsResponse,
    workout_rules.suggest_workouts,
    prompts.workout,
)


def recommend_food(*, user: User) -> FoodRecommendationsResponse:
    response = _recommend(user, FOOD)
    _viewed(user, FOOD, response)
    return response


def recommend_workouts(*, user: User) -> WorkoutRecommendationsResponse:
    response = _recommend(user, WORKOUT)
    _viewed(user, WORKOUT, response)
    return response


def _viewed(user: User, kind: _Kind, response: Any) -> None:
    track(
        user,
        ServerEvent.RECOMMENDATION_VIEWED,
        {"kind": kind.name, "source": str(response.source)},
    )


def _recommend(user: User, kind: _Kind) -> Any:
    started = time.monotonic()
    now = timezone.now()
    config = AIServiceConfig.from_settings()
    if not config.available or not features.is_enabled(Feature.AI_RECOMMENDATIONS):
        items, confidence = kind.rules(build_snapshot(user, now=now))
        return _response(kind, items, confidence, AIResultSource.RULES, started)

    key = _cache_key(user, kind, config.model_for("text"), now)
    cached = _cached(key, kind)
    if cached is not None:
        items, confidence, source = cached
        return _response(kind, items, confidence, source, started)

    snapshot = build_snapshot(user, now=now)
    try:
        client = get_ai_client()
        enforce_rate_limit(user=user, scope=RATE_LIMIT_SCOPE, config=config)
        result = client.generate_json(
            [prompts.REQUEST],
            kind.answer,
            user=user,
            endpoint=f"recommendations.{kind.name}",
            model_kind="text",
            system_instruction=kind.instruction(snapshot),
        )
    except AIError as exc:
        logger.warning("%s recommendations from the rules: %s", kind.name, exc.code)
        items, confidence = kind.rules(snapshot)
        _store(key, items, confidence, AIResultSource.RULES, FALLBACK_TTL_SECONDS)
        return _response(kind, items, confidence, AIResultSource.RULES, started)
    items, confidence = result.data.suggestions, result.data.confidence
    _store(key, items, confidence, AIResultSource.GEMINI, _seconds_to_midnight(user, now))
    return _response(kind, items, confidence, AIResultSource.GEMINI, started)


def _response(
    kind: _Kind, items: list[Any], confidence: float, source: AIResultSource, started: float
) -> Any:
    return kind.response(
        data=items,
        confidence=confidence,
        processing_time=round(time.monotonic() - started, 3),
        source=source,
    )


def _fingerprint(user: User) -> str:
    """Changes whenever one of the user's logs or workouts is added, edited or deleted
    (deletion lowers the count; anything else moves the latest `updated_at`)."""
    food_logs, food_changed = food_selectors.food_logs_state(user=user)
    workouts, workouts_changed = workout_selectors.workouts_state(user=user)
    state = f"{food_logs}:{food_changed}:{workouts}:{workouts_changed}:{user.updated_at}"
    return hashlib.sha256(state.encode()).hexdigest()[:24]


def _cache_key(user: User, kind: _Kind, model: str, now: datetime) -> str:
    day = now.astimezone(user_zone(user)).date()
    return (
        f"ai:recommendations:{kind.name}:v{prompts.PROMPT_VERSION}:{model}:{user.pk}:"
        f"{day.isoformat()}:{_fingerprint(user)}"
    )


def _store(
    key: str, items: list[Any], confidence: float, source: AIResultSource, timeout: int
) -> None:
    payload = {
        "items": [item.model_dump(mode="json") for item in items],
        "confidence": confidence,
        "source": source.value,
    }
    cache.set(key, payload, timeout=timeout)


def _cached(key: str, kind: _Kind) -> tuple[list[Any], float, AIResultSource] | None:
    payload = cache.get(key)
    AI_CACHE.labels(
        cache=f"recommendations_{kind.name}", result="miss" if payload is None else "hit"
    ).inc()
    if payload is None:
        return None
    try:
        answer = kind.answer.model_validate(
            {"suggestions": payload["items"], "confidence": payload["confidence"]}
        )
    except (ValidationError, KeyError, TypeError):
        logger.info("Discarding cached %s recommendations that no longer validate", kind.name)
        return None
    # A model's answer served again is "cache"; the rules' answer stays "rules".
    source = (
        AIResultSource.CACHE
        if payload.get("source") == AIResultSource.GEMINI
        else AIResultSource.RULES
    )
    return answer.suggestions, answer.confidence, source


def _seconds_to_midnight(user: User, now: datetime) -> int:
    zone = user_zone(user)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return max(60, int((start_of_day(tomorrow, zone) - now).total_seconds()))
