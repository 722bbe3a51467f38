import logging

from celery import shared_task
from google.api_core.exceptions import ServerError, TooManyRequests

from storage import services
from storage.images import DecoderBusy

logger = logging.getLogger(__name__)

# Network hiccups, GCS 5xx/429 and every decode slot of this worker taken (the same bound
# as in requests) are worth retrying; anything else will fail again.
_TRANSIENT = (OSError, ServerError, TooManyRequests, DecoderBusy)


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=5)
def make_variants(file_id: str) -> None:
    services.make_variants(file_id=file_id)


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=8)
def remove_blobs(keys: list[str]) -> None:
    services.remove_blobs(keys=keys)


@shared_task
def delete_expired_files() -> int:
    deleted = services.delete_expired_files()
    if deleted:
        logger.info("deleted %d expired stored files", deleted)
    return deleted
