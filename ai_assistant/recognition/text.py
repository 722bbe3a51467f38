"""Food analysis from the user's words (`POST /ai/food/analyze-text`, or `text` on
`POST /food/analyze`)."""

import hashlib
import time
import unicodedata

from django.contrib.auth.base_user import AbstractBaseUser

from ai_assistant.cache import cached_answer, remember_answer
from ai_assistant.client import get_ai_client
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.recognition import prompts
from ai_assistant.recognition.schemas import FoodAnalysis, FoodAnalysisResponse
from ai_assistant.responses import AIResultSource


def analyze_food_text(*, user: AbstractBaseUser, text: str) -> FoodAnalysisResponse:
    """The nutrition of a meal described in words; the same words within the cache TTL are
    answered from the cache (whoever asked first) without calling the model again."""
    started = time.monotonic()
    client = get_ai_client()
    enforce_rate_limit(user=user, scope="food_text", config=client.config)
    model = client.config.model_for("text")
    key = _food_text_cache_key(text, model)

    cached = cached_answer(key, FoodAnalysis, cache_name="food_text")
    if cached is not None:
        return FoodAnalysisResponse.of(cached, started=started, source=AIResultSource.CACHE)

    result = client.generate_json(
        [prompts.food_text_prompt(text)],
        FoodAnalysis,
        user=user,
        endpoint="food.analyze_text",
        model_kind="text",
        system_instruction=prompts.FOOD_ANALYST,
    )
    remember_answer(key, result.data, timeout=client.config.cache_ttl_seconds)
    return FoodAnalysisResponse.of(result.data, started=started, source=AIResultSource.GEMINI)


def normalize_food_text(text: str) -> str:
    """Case, spacing and Unicode variants of the same words make one cache entry."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _food_text_cache_key(text: str, model: str) -> str:
    digest = hashlib.sha256(normalize_food_text(text).encode()).hexdigest()
    return f"ai:food-text:v{prompts.PROMPT_VERSION}:{model}:{digest}"
