"""The plan's food recognition pipeline, shared by the Celery job and `POST /food/analyze`:

photo → preprocess (upright, metadata stripped, ≤ 1024 px, JPEG)
      → cache key from the processed bytes → a cached answer, or
      → two analyses in parallel (asyncio) → consolidated into one → cached.

A photo seen before is known by the digest of its own bytes, before any decoding: each
preprocess remembers which processed JPEG those bytes became (`remember_source`), so
`known_analysis` finds the cached answer from the upload's or stored file's SHA-256 alone.
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
from ai_assistant.cache import cached_answer, cached_value, remember_answer, remember_value
from ai_assistant.client import AIClient, get_ai_client
from ai_assistant.errors import AIError
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.providers import Blob
from ai_assistant.recognition import prompts
from ai_assistant.recognition.consolidation import consolidate_analyses
from ai_assistant.recognition.schemas import FoodAnalysis, FoodAnalysisResponse
from ai_assistant.responses import AIResultSource
from fitness.uploads import check_upload_size
from storage import images
from storage import services as storage_services
from storage.models import StoredFile
from storage.selectors import file_with_bytes, owned_files, read_bytes

logger = logging.getLogger(__name__)

# Long side sent to the model: enough to tell foods apart, a fraction of the tokens and
# upload time of a full-size phone photo.
MODEL_IMAGE_SIDE = 1024
ANALYSES = 2
# The same bytes through the same preprocessing always give the same JPEG, and a JPEG made
# by an older version still shows the same photo (so its answer still holds): the link
# never goes wrong, and outlives the answers it leads to.
SOURCE_LINK_SECONDS = 24 * 3600
_CACHE_NAME = "food_photo"


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


def kept_jpeg(owner: User, jpeg_digest: str) -> images.EncodedImage | None:
    """The processed JPEG of a known photo, from a copy the owner already keeps (the same
    photo recognised before): storing it again needs no decode. None without one."""
    stored = file_with_bytes(owner, sha256=jpeg_digest, content_type="image/jpeg")
    if stored is None or not stored.width or not stored.height:
        return None
    try:
        data = read_bytes(stored)
    except FileNotFoundError:
        return None
    if hashlib.sha256(data).hexdigest() != jpeg_digest:
        return None  # not the bytes the row says: decode the upload instead
    return images.EncodedImage(data=data, format="JPEG", width=stored.width, height=stored.height)


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
    nothing is stored. Counts against the food_recognition allowance. A photo seen before
    is answered from the cache by its bytes' digest, without decoding it."""
    started = time.monotonic()
    client = get_ai_client()
    stored = owned_files(user, [file_id], field="file_id")[0] if file_id else None
    if stored is not None:
        digest = stored.sha256
    else:
        check_upload_size(upload)
        digest = source_digest(upload)
    known = known_analysis(digest, client.config.model_for("vision"))
    # A refused photo is refused before the allowance is counted.
    if known is None:
        jpeg = model_jpeg(stored) if stored is not None else preprocess_upload(upload).data
        remember_source(digest, jpeg)
    enforce_rate_limit(user=user, scope="food_recognition", config=client.config)
    if known is not None:
        return FoodAnalysisResponse.of(known[1], started=started, source=AIResultSource.CACHE)
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
    cached = cached_answer(key, FoodAnalysis, cache_name=_CACHE_NAME)
    if cached is not None:
        return FoodAnalysisResponse.of(cached, started=started, source=AIResultSource.CACHE)
    kept = list(kept[:ANALYSES])
    missing = ANALYSES - len(kept)
    fresh = async_to_sync(_analyses)(client, user, jpeg, missing, on_answer, not kept)
    analysis = consolidate_analyses(kept + fresh)
    remember_answer(key, analysis, timeout=client.config.cache_ttl_seconds)
    return FoodAnalysisResponse.of(analysis, started=started, source=AIResultSource.GEMINI)


def photo_cache_key(jpeg: bytes, model: str) -> str:
    return _answer_key(hashlib.sha256(jpeg).hexdigest(), model)


def _answer_key(jpeg_digest: str, model: str) -> str:
    version = f"v{prompts.PROMPT_VERSION}.{prompts.PHOTO_PROMPT_VERSION}"
    return f"ai:food-photo:{version}:{model}:{jpeg_digest}"


def _source_key(source_digest: str) -> str:
    return f"ai:food-photo-source:{MODEL_IMAGE_SIDE}:{source_digest}"


def source_digest(upload: UploadedFile) -> str:
    """SHA-256 of an upload's bytes as sent (read in chunks: it may be on disk)."""
    upload.seek(0)
    digest = hashlib.file_digest(upload.file, "sha256").hexdigest()
    upload.seek(0)
    return digest


def remember_source(source_digest: str, jpeg: bytes) -> None:
    """Links the digest of a photo's own bytes to the JPEG the model is shown of it."""
    jpeg_digest = hashlib.sha256(jpeg).hexdigest()
    if jpeg_digest != source_digest:
        remember_value(_source_key(source_digest), jpeg_digest, timeout=SOURCE_LINK_SECONDS)


def known_analysis(source_digest: str, model: str) -> tuple[str, FoodAnalysis] | None:
    """(digest of the JPEG the model was shown, its cached analysis) for a photo whose own
    bytes have the SHA-256 `source_digest`, or None. Nothing is decoded: only bytes that
    passed preprocessing before are linked (or are themselves such a JPEG, as a stored
    recognition photo is). A miss is not counted here: the job's look-up counts it."""
    jpeg_digest = cached_value(_source_key(source_digest)) or source_digest
    cached = cached_answer(
        _answer_key(jpeg_digest, model), FoodAnalysis, cache_name=_CACHE_NAME, count_miss=False
    )
    return None if cached is None else (jpeg_digest, cached)


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
