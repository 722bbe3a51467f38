"""The plan's food recognition pipeline, shared by the Celery job and `POST /food/analyze`:

photo → preprocess (upright, metadata stripped, ≤ 1024 px, JPEG)
      → cache key from the processed bytes → a cached answer, or
      → two analyses in parallel (asyncio) → consolidated into one → cached.
"""

import asyncio
import hashlib
import io
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import BinaryIO

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from accounts.models import User
from ai_assistant.cache import cached_answer, remember_answer
from ai_assistant.client import AIClient, get_ai_client
from ai_assistant.errors import AIError
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.providers import Blob
from ai_assistant.recognition import prompts
from ai_assistant.recognition.consolidation import consolidate_analyses
from ai_assistant.recognition.schemas import FoodAnalysis, FoodAnalysisResponse
from ai_assistant.responses import AIResultSource
from storage import images
from storage import services as storage_services
from storage.models import StoredFile
from storage.selectors import owned_files, read_bytes

logger = logging.getLogger(__name__)

# Long side sent to the model: enough to tell foods apart, a fraction of the tokens and
# upload time of a full-size phone photo.
MODEL_IMAGE_SIDE = 1024
ANALYSES = 2


def preprocess_photo(source: BinaryIO) -> images.EncodedImage:
    """What the model is shown: checked from its bytes like every upload (type, pixel
    cap, bombs), upright, stripped of all metadata, at most 1024 px, JPEG."""
    return images.normalise_image(
        source,
        max_pixels=settings.STORAGE_MAX_PIXELS,
        max_side=MODEL_IMAGE_SIDE,
        output_format="JPEG",
    )


def preprocess_upload(upload: UploadedFile) -> images.EncodedImage:
    """An upload as storage accepts it (size limit included), at the model's size."""
    return storage_services.accept_image(upload, max_side=MODEL_IMAGE_SIDE, output_format="JPEG")


def model_jpeg(stored: StoredFile) -> bytes:
    """The stored photo as the model is shown it. Storage keeps only cleaned images, so one
    that is already a small enough JPEG (as recognition's own uploads are) is sent as is:
    encoding it again would only lose quality and change its cache key."""
    data = read_bytes(stored)
    small = max(stored.width or 0, stored.height or 0) <= MODEL_IMAGE_SIDE
    if stored.content_type == "image/jpeg" and stored.width and small:
        return data
    return preprocess_photo(io.BytesIO(data)).data


def analyze_food_photo(
    *, user: User, upload: UploadedFile | None = None, file_id: uuid.UUID | None = None
) -> FoodAnalysisResponse:
    """The pipeline run in the caller's request, on an upload or one of the caller's files;
    nothing is stored. Counts against the food_recognition allowance."""
    client = get_ai_client()
    # A refused photo is refused before the allowance is counted.
    if file_id:
        jpeg = model_jpeg(owned_files(user, [file_id], field="file_id")[0])
    else:
        jpeg = preprocess_upload(upload).data
    enforce_rate_limit(user=user, scope="food_recognition", config=client.config)
    return analyze_photo(client=client, user=user, jpeg=jpeg)


def analyze_photo(
    *,
    client: AIClient,
    user: User,
    jpeg: bytes,
    kept: Sequence[FoodAnalysis] = (),
    on_answer: Callable[[FoodAnalysis], None] | None = None,
) -> FoodAnalysisResponse:
    """The consolidated analysis of one preprocessed photo, from the cache when the same
    bytes were analysed within the cache TTL (by anyone: the answer depends only on them).

    `kept` are answers an earlier run already had from the model for these bytes: only the
    analyses still missing are asked for. `on_answer` is called (in the caller's thread,
    where its database connection is) with each new answer as soon as it arrives.
    """
    started = time.monotonic()
    key = photo_cache_key(jpeg, client.config.model_for("vision"))
    cached = cached_answer(key, FoodAnalysis, cache_name="food_photo")
    if cached is not None:
        return FoodAnalysisResponse.of(cached, started=started, source=AIResultSource.CACHE)
    kept = list(kept[:ANALYSES])
    missing = ANALYSES - len(kept)
    fresh = async_to_sync(_analyses)(client, user, jpeg, missing, on_answer, not kept)
    analysis = consolidate_analyses(kept + fresh)
    remember_answer(key, analysis, timeout=client.config.cache_ttl_seconds)
    return FoodAnalysisResponse.of(analysis, started=started, source=AIResultSource.GEMINI)


def photo_cache_key(jpeg: bytes, model: str) -> str:
    digest = hashlib.sha256(jpeg).hexdigest()
    version = f"v{prompts.PROMPT_VERSION}.{prompts.PHOTO_PROMPT_VERSION}"
    return f"ai:food-photo:{version}:{model}:{digest}"


async def _analyses(
    client: AIClient,
    user: User,
    jpeg: bytes,
    count: int,
    on_answer: Callable[[FoodAnalysis], None] | None,
    required: bool,
) -> list[FoodAnalysis]:
    """`count` independent analyses of the photo, side by side. One that fails (after the
    client's own retries) leaves the others to answer; only when all fail, and an answer
    is `required` (none was kept from an earlier run), is the first error raised."""
    parts = [prompts.PHOTO_PROMPT, Blob(data=jpeg, mime_type="image/jpeg")]
    keep = sync_to_async(on_answer) if on_answer is not None else None

    async def analyse() -> FoodAnalysis:
        answer = await client.agenerate_json(
            parts,
            FoodAnalysis,
            user=user,
            endpoint="food.recognize",
            model_kind="vision",
            system_instruction=prompts.FOOD_ANALYST,
        )
        if keep is not None:
            await keep(answer.data)
        return answer.data

    outcomes = await asyncio.gather(*(analyse() for _ in range(count)), return_exceptions=True)
    answers = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    for failure in failures:
        if not isinstance(failure, AIError):
            raise failure  # a bug, not the provider: never hide it behind the other answer
    if not answers and required:
        raise failures[0]
    if failures:
        logger.info(
            "Food recognition used %d of %d analyses (%s)",
            len(answers) + ANALYSES - count,
            ANALYSES,
            ", ".join(failure.code for failure in failures),
        )
    return answers
