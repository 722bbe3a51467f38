import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from ai_assistant.recognition import jobs
from fitness.api.errors import InternalError

logger = logging.getLogger(__name__)

_LIMITS = settings.AI_RECOGNITION
# The tasks keep the names they were registered under before they moved here from
# `ai_assistant/tasks.py`: the beat schedule names them, and messages already queued
# (or sent by a worker still running the old code) carry the old name.
_OLD_MODULE = "ai_assistant.tasks"


# acks_late + reject_on_worker_lost: the message is acknowledged only once a run is over,
# and handed back to the broker if the worker process dies mid-run, so a lost worker
# means a later run, not a lost job. A run that comes too late changes nothing (see jobs).
@shared_task(
    name=f"{_OLD_MODULE}.recognize_food",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=_LIMITS["SOFT_TIME_LIMIT_SECONDS"],
    time_limit=_LIMITS["TIME_LIMIT_SECONDS"],
)
def recognize_food(self, job_id: str) -> None:
    try:
        retry_in = jobs.run_job(job_id=job_id, retries=self.request.retries)
    except SoftTimeLimitExceeded:
        jobs.fail_job(job_id=job_id, error=jobs.JobTimedOut())
        return
    except Exception:
        # A bug, not the provider: the job fails now, and Celery logs the traceback.
        jobs.fail_job(job_id=job_id, error=InternalError())
        raise
    if retry_in is not None:
        # Queued anew rather than `raise self.retry()`, which with eager Celery (the
        # embedded default) only raises instead of running the retry.
        queue_recognition(job_id, countdown=retry_in, retries=self.request.retries + 1)


def queue_recognition(job_id: str, *, countdown: float | None = None, retries: int = 0) -> None:
    """Queues a run of the job, with the time limits of settings.AI_RECOGNITION as they are
    now (a message carries its limits; those of the decorator are read once, at import)."""
    limits = settings.AI_RECOGNITION
    recognize_food.apply_async(
        (job_id,),
        countdown=countdown,
        retries=retries,
        soft_time_limit=limits["SOFT_TIME_LIMIT_SECONDS"],
        time_limit=limits["TIME_LIMIT_SECONDS"],
    )


@shared_task(name=f"{_OLD_MODULE}.fail_stuck_recognition_jobs")
def fail_stuck_recognition_jobs() -> int:
    failed = jobs.fail_stuck_jobs()
    if failed:
        logger.warning("failed %d stuck recognition jobs", failed)
    return failed
