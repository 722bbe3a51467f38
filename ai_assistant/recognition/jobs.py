"""Photo recognition jobs: requested over HTTP, run by `recognition.tasks.recognize_food`,
failed by the periodic sweep when stuck.

Reliability comes from the job row, not from the broker alone:
- the request stores the photo and the row, and queues the job id after commit;
- a run claims the job (`pending`/`running` → `running`, one more attempt), so a message
  redelivered after a lost worker runs it again;
- a run finishes the job under a row lock, and only if it is still `running`: the first
  run to finish stores the one result (and the one FoodLog), any other run stores nothing;
- transient provider failures hand the job back to `pending` for a later retry;
- each model answer is stored on the row as it arrives, and a later run of the job (a
  retry, or a redelivery after a lost worker) asks the model only for what is missing.
"""

import functools
import hashlib
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from pydantic import ValidationError

from accounts.models import User
from ai_assistant.client import get_ai_client
from ai_assistant.config import AIServiceConfig
from ai_assistant.errors import AIError, AIRateLimited, AIUnavailable
from ai_assistant.limits import enforce_rate_limit
from ai_assistant.models import RecognitionJob
from ai_assistant.recognition import pipeline
from ai_assistant.recognition.schemas import FoodAnalysis, FoodAnalysisResponse
from ai_assistant.responses import AIResultSource
from analytics.events import FoodSource, ServerEvent
from analytics.services import track
from fitness.api.errors import BACKEND_OUTAGES, ApiError, IdConflict, NotFound, log_outage
from fitness.error_codes import ErrorCode
from fitness.observability.metrics import RECOGNITION_JOBS
from fitness.transactions import robust_on_commit
from fitness.uploads import check_upload_size
from fitness.ws import send_user_event, wait_for_user_event
from food import services as food_services
from food.models import FoodLog
from storage import selectors as storage_selectors
from storage import services as storage_services
from storage.images import DecoderBusy
from storage.models import Purpose, StoredFile

logger = logging.getLogger(__name__)

Status = RecognitionJob.Status
_UNFINISHED = (Status.PENDING, Status.RUNNING)
# Longest wait before a task-level retry (well inside the broker's visibility timeout); a
# provider quota that frees up later than this is waited for in steps.
_MAX_RETRY_DELAY = 60
# Namespace of the ids of food logs made from jobs (uuid5 of the job id).
_FOOD_LOG_IDS = uuid.UUID("6f1c7d0e-5a4b-4c1e-9d2f-3b8a7e6c5d40")


class JobTimedOut(ApiError):
    code = ErrorCode.JOB_TIMEOUT
    message = "The recognition did not finish in time. Try again."


class PhotoMissing(ApiError):
    code = ErrorCode.IMAGE_MISSING
    message = "The photo was deleted before it could be analysed."


class AttemptsExhausted(ApiError):
    code = ErrorCode.JOB_ATTEMPTS_EXHAUSTED
    message = "The recognition was started too many times without finishing."


def request_recognition(
    *,
    owner: User,
    upload: UploadedFile | None = None,
    file_id: uuid.UUID | None = None,
    log: bool = False,
    job_id: uuid.UUID | None = None,
) -> RecognitionJob:
    """Stores the photo (an upload) or finds it (the caller's `file_id`) and queues a job.

    A photo seen before (its bytes' digest leads to a cached answer) is answered here,
    with no job queued: the job comes back finished, and the photo is stored only when
    `log` asks for it to be kept with the meal (a copy of the owner's earlier one when
    there is one, else the upload decoded and cleaned as for any recognition).

    A client-chosen `job_id` makes the request safe to resend: the same id returns the
    caller's existing job without storing, counting or running anything again.
    """
    started = time.monotonic()
    config = AIServiceConfig.from_settings()
    if not config.available:
        raise AIUnavailable()
    if job_id is not None and (existing := _replay(owner, job_id)) is not None:
        return existing
    image = None
    if upload is not None:
        check_upload_size(upload)
        digest = pipeline.source_digest(upload)
    else:
        image = storage_selectors.owned_files(owner, [file_id], field="file_id")[0]
        digest = image.sha256
    known = pipeline.known_analysis(digest, config.model_for("vision"))
    store = upload is not None and (known is None or log)
    # A refused photo is refused before the allowance is counted, and stored only after.
    if store:
        encoded = pipeline.kept_jpeg(owner, known[0]) if known is not None else None
        if encoded is None:
            encoded = pipeline.preprocess_upload(upload)
            pipeline.remember_source(digest, encoded.data)
    enforce_rate_limit(user=owner, scope="food_recognition", config=config)
    job_id = job_id or uuid.uuid4()
    if known is None:
        if store:
            image = storage_services.store_image(
                owner=owner,
                encoded=encoded,
                original_filename=upload.name or "",
                purpose=Purpose.FOOD_PHOTO,
            )
        return _create_job(owner=owner, image=image, log=log, job_id=job_id)
    jpeg_digest, analysis = known
    answer = functools.partial(
        _create_answered_job,
        owner=owner,
        log=log,
        job_id=job_id,
        jpeg_digest=jpeg_digest,
        result=FoodAnalysisResponse.of(analysis, started=started, source=AIResultSource.CACHE),
    )
    try:
        if store:
            with storage_services.storing_image(
                owner=owner,
                encoded=encoded,
                original_filename=upload.name or "",
                purpose=Purpose.FOOD_PHOTO,
            ) as stored:
                return answer(image=stored)
        with transaction.atomic():
            return answer(image=image)
    except IntegrityError:
        # The same id sent twice at once: the other request created it first. Everything
        # of this one (the photo, the meal) rolled back with its job.
        return _replayed_after_race(owner, job_id)


@transaction.atomic
def _create_job(*, owner: User, image: StoredFile, log: bool, job_id: uuid.UUID) -> RecognitionJob:
    try:
        with transaction.atomic():
            job = RecognitionJob.objects.create(id=job_id, owner=owner, image=image, log_food=log)
    except IntegrityError:
        # The same id sent twice at once: the other request created it first.
        return _replayed_after_race(owner, job_id)
    from ai_assistant.recognition.tasks import queue_recognition  # it imports this module

    # Robust: the job is accepted even if queueing fails (the sweep fails it later), and
    # with eager Celery a failing run must not turn the accepted request into an error.
    robust_on_commit(queue_recognition, str(job.id))
    return job


def _create_answered_job(
    *,
    owner: User,
    image: StoredFile | None,
    log: bool,
    job_id: uuid.UUID,
    jpeg_digest: str,
    result: FoodAnalysisResponse,
) -> RecognitionJob:
    """The job of a photo answered from the cache in the request: stored finished, as a
    run of the task would leave it (with its food log for `log`), with no run queued.

    Runs inside the caller's transaction with no savepoints: a job id taken meanwhile
    fails the insert, and the whole transaction with it. `image` is live (just stored,
    or one of the owner's live files).
    """
    now = timezone.now()
    job = RecognitionJob(
        id=job_id,
        owner=owner,
        image=image,
        image_sha256=jpeg_digest,
        log_food=log,
        status=Status.SUCCEEDED,
        result=result.model_dump(mode="json"),
        created_at=now,
        started_at=now,
        finished_at=now,
    )
    if log:
        job.food_log = _log_meal(job, result.data, image=image, savepoint=False)
    job.save(force_insert=True)
    _after_finishing(job, status=Status.SUCCEEDED)
    return job


def _replayed_after_race(owner: User, job_id: uuid.UUID) -> RecognitionJob:
    """The job that a request sent at the same time, with the same id, created first."""
    existing = _replay(owner, job_id)
    if existing is None:
        raise IntegrityError(f"recognition job {job_id} could not be created")
    return existing


def _replay(owner: User, job_id: uuid.UUID) -> RecognitionJob | None:
    existing = RecognitionJob.objects.filter(pk=job_id).first()
    if existing is not None and existing.owner_id != owner.pk:
        raise IdConflict("This id is already in use; start the recognition with another id.")
    return existing


def get_job(*, user: User, job_id: uuid.UUID) -> RecognitionJob:
    """The caller's job; 404 for anyone else's."""
    job = RecognitionJob.objects.filter(owner=user, pk=job_id).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def wait_for_job(job: RecognitionJob, *, seconds: float) -> RecognitionJob:
    """The job once finished, or as it is after `seconds` (`Prefer: wait`).

    Woken by the job's own `job.finished` event, which whichever process finishes it (a
    worker elsewhere, or this one) sends through the shared channel layer: the row is read
    once on subscribing and again when the event comes. Should the event be lost (a full
    channel, a Redis hiccup), the row is read again every WAIT_RECHECK_SECONDS.
    """
    if job.is_finished or seconds <= 0:
        return job

    def finished() -> bool:
        job.refresh_from_db()
        if not job.is_finished:
            _release_connection()
        return job.is_finished

    try:
        wait_for_user_event(
            job.owner_id,
            done=finished,
            wakes=lambda event: _announces(event, job),
            seconds=seconds,
            recheck_seconds=settings.AI_RECOGNITION["WAIT_RECHECK_SECONDS"],
        )
    except BACKEND_OUTAGES as exc:
        # Nothing to wait on without the channel layer: answer the job as it is now.
        log_outage(exc, "recognition job wait")
        job.refresh_from_db()
    return job


def _announces(event: dict, job: RecognitionJob) -> bool:
    return event.get("type") == "job.finished" and event.get("job_id") == str(job.pk)


def _release_connection() -> None:
    """Hands the pooled connection back while waiting: a few waiting clients must not hold
    every connection of the process for up to 30 s. (Inside a transaction, as in a test,
    the connection has to stay.)"""
    if not connection.in_atomic_block:
        connection.close()


def run_job(*, job_id: uuid.UUID | str, retries: int) -> float | None:
    """One run of the job (`retries` = task-level retries so far).

    Returns the seconds to wait before retrying after a transient provider failure, or
    None when there is nothing more to do: the job finished (either way), or another run
    had already finished it.
    """
    job = _claim(job_id)
    if job is None:
        return None
    policy = settings.AI_RECOGNITION
    if job.attempts > policy["MAX_ATTEMPTS"]:
        fail_job(job_id=job.pk, error=AttemptsExhausted())
        return None
    try:
        client = get_ai_client()
        if job.image is None:
            raise PhotoMissing()
        try:
            jpeg = pipeline.model_jpeg(job.image)
        except FileNotFoundError:
            raise PhotoMissing() from None
        pipeline.remember_source(job.image.sha256, jpeg)
        RecognitionJob.objects.filter(pk=job.pk).update(
            image_sha256=hashlib.sha256(jpeg).hexdigest()
        )
        key = pipeline.photo_cache_key(jpeg, client.config.model_for("vision"))
        response = pipeline.analyze_photo(
            client=client,
            user=job.owner,
            jpeg=jpeg,
            kept=_kept_answers(job, key),
            on_answer=lambda analysis: _keep_answer(job.pk, key, analysis),
        )
    except AIError as exc:
        if _transient(exc) and retries < policy["MAX_RETRIES"]:
            delay = _retry_delay(exc, retries)
            if _hand_back(job):
                logger.info("Recognition %s: %s, retrying in %ss", job.pk, exc.code, delay)
                return delay
            return None
        fail_job(job_id=job.pk, error=exc)
        return None
    except DecoderBusy as exc:
        # Every decode slot of this worker process taken (thread pools): a later run will
        # find one. MAX_ATTEMPTS bounds how often.
        if _hand_back(job):
            return exc.details["retry_after"]
        return None
    except ApiError as exc:
        fail_job(job_id=job.pk, error=exc)
        return None
    _finish(job.pk, Q(status=Status.RUNNING), status=Status.SUCCEEDED, result=response)
    return None


def fail_job(*, job_id: uuid.UUID | str, error: ApiError) -> bool:
    """Fails a running job with `error`; False if it is not running (any more)."""
    return _finish(job_id, Q(status=Status.RUNNING), status=Status.FAILED, error=error)


def fail_stuck_jobs(*, now: datetime | None = None) -> int:
    """Fails jobs left unfinished too long: running past every time limit (its worker is
    gone and nothing redelivered it) or pending and never picked up (a lost message)."""
    now = now or timezone.now()
    policy = settings.AI_RECOGNITION
    stuck = Q(
        status=Status.RUNNING,
        updated_at__lt=now - timedelta(seconds=policy["STUCK_RUNNING_SECONDS"]),
    ) | Q(
        status=Status.PENDING,
        updated_at__lt=now - timedelta(seconds=policy["STUCK_PENDING_SECONDS"]),
    )
    ids = list(RecognitionJob.objects.filter(stuck).values_list("pk", flat=True)[:500])
    return sum(_finish(job_id, stuck, status=Status.FAILED, error=JobTimedOut()) for job_id in ids)


def job_event(job: RecognitionJob) -> dict[str, Any]:
    """The `job.finished` WebSocket event's payload."""
    return {
        "job_id": str(job.pk),
        "kind": "food_recognition",
        "status": job.status,
        "result": job.result,
        "error": job.error,
        "food_log_id": str(job.food_log_id) if job.food_log_id else None,
    }


def _claim(job_id: uuid.UUID | str) -> RecognitionJob | None:
    # `running` too: a job whose worker died mid-run comes back running.
    now = timezone.now()
    claimed = RecognitionJob.objects.filter(pk=job_id, status__in=_UNFINISHED).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, started_at=now, updated_at=now
    )
    if not claimed:
        return None
    return RecognitionJob.objects.select_related("owner", "image").get(pk=job_id)


def _kept_answers(job: RecognitionJob, key: str) -> list[FoodAnalysis]:
    """The model answers an earlier run of the job stored for the same photo, model and
    prompts (a redelivery after a lost worker, a retry after one failed analysis)."""
    kept = []
    for stored in job.model_answers:
        if stored.get("key") != key:
            continue
        try:
            kept.append(FoodAnalysis.model_validate(stored["analysis"]))
        except (KeyError, ValidationError):
            continue  # stored by an older schema: asked for again
    return kept


@transaction.atomic
def _keep_answer(job_id: uuid.UUID, key: str, analysis: FoodAnalysis) -> None:
    """Stores one model answer on the job the moment it arrives, in its own short
    transaction: if this worker dies before the job finishes, the next run reuses it."""
    job = (
        RecognitionJob.objects.select_for_update()
        .only("pk", "model_answers")
        .filter(pk=job_id, status=Status.RUNNING)
        .first()
    )
    if job is None:
        return  # finished by another run meanwhile
    job.model_answers = [
        *job.model_answers,
        {"key": key, "analysis": analysis.model_dump(mode="json")},
    ]
    job.save(update_fields=["model_answers", "updated_at"])


def _hand_back(job: RecognitionJob) -> bool:
    """Back to pending until the retry runs; False if the job was finished meanwhile."""
    return bool(
        RecognitionJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
            status=Status.PENDING, updated_at=timezone.now()
        )
    )


def _transient(exc: AIError) -> bool:
    return exc.retryable or isinstance(exc, AIRateLimited)


def _retry_delay(exc: AIError, retries: int) -> float:
    delay = settings.AI_RECOGNITION["RETRY_BACKOFF_SECONDS"] * 2**retries
    if isinstance(exc, AIRateLimited):
        delay = max(delay, exc.details.get("retry_after", 0))
    return min(delay, _MAX_RETRY_DELAY)


@transaction.atomic
def _finish(
    job_id: uuid.UUID | str,
    only_if: Q,
    *,
    status: str,
    result: FoodAnalysisResponse | None = None,
    error: ApiError | None = None,
) -> bool:
    job = RecognitionJob.objects.select_for_update().filter(only_if, pk=job_id).first()
    if job is None:
        return False  # another run (or the sweep) finished it first: theirs stands
    job.status = status
    job.finished_at = timezone.now()
    if result is not None:
        job.result = result.model_dump(mode="json")
        if job.log_food:
            # The photo may have expired while the job ran; the meal is still worth logging.
            image = storage_selectors.live_file(job.image_id)
            job.food_log = _log_meal(job, result.data, image=image)
    if error is not None:
        job.error = {"code": error.code, "message": error.message, "details": error.details}
    job.save()
    _after_finishing(job, status=status, error=error)
    return True


def _log_meal(
    job: RecognitionJob,
    analysis: FoodAnalysis,
    *,
    image: StoredFile | None,
    savepoint: bool = True,
) -> FoodLog:
    log, _ = food_services.log_food(
        owner=job.owner,
        data=_food_log_data(job, analysis, image=image),
        source=FoodSource.PHOTO,
        savepoint=savepoint,
    )
    return log


def _after_finishing(job: RecognitionJob, *, status: str, error: ApiError | None = None) -> None:
    """What follows a finished job, once its transaction commits: the `job.finished` event
    (which also wakes the requests waiting on it), the metric and the analytics event."""
    robust_on_commit(_announce, job)
    robust_on_commit(
        RECOGNITION_JOBS.labels(outcome=status, reason=str(error.code) if error else "").inc
    )
    track(
        job.owner,
        ServerEvent.PHOTO_RECOGNIZED,
        {"outcome": status, "error": error.code if error is not None else None},
    )


def _food_log_data(
    job: RecognitionJob, analysis: FoodAnalysis, *, image: StoredFile | None
) -> dict[str, Any]:
    totals = analysis.item_breakdown.totals
    return {
        # Derived from the job: however often this runs, it names the one log.
        "id": uuid.uuid5(_FOOD_LOG_IDS, str(job.pk)),
        "name": analysis.food_name[:255],
        **food_services.estimated_nutrition(
            calories=totals.calories, protein=totals.protein, carbs=totals.carbs, fat=totals.fat
        ),
        "timestamp": job.created_at,
        "image": image,
        "ai_analysis": analysis.model_dump(mode="json"),
        "metadata": {"source": "ai_recognition", "recognition_job_id": str(job.pk)},
    }


def _announce(job: RecognitionJob) -> None:
    send_user_event(job.owner_id, "job.finished", job_event(job))
