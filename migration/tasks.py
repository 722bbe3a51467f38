import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from migration import services

logger = logging.getLogger(__name__)

_LOCK = "migration:supabase-delta"


@shared_task(name="migration.tasks.import_supabase_delta")
def import_supabase_delta() -> str | None:
    """One delta pass from the last run's high-water mark. A pass still running when the
    next is due makes that one skip, so passes never overlap."""
    url = settings.MIGRATION_SUPABASE_URL
    if not url:
        logger.warning("import_supabase_delta: MIGRATION_SUPABASE_URL is not set; skipped.")
        return None
    lock_seconds = max(settings.MIGRATION_DELTA_INTERVAL, 60) * 10
    if not cache.add(_LOCK, 1, timeout=lock_seconds):
        logger.info("import_supabase_delta: the previous pass is still running; skipped.")
        return None
    try:
        run = services.import_supabase(
            database_url=url, mapping_path=settings.MIGRATION_MAPPING_FILE or None
        )
    finally:
        cache.delete(_LOCK)
    changed = sum(c["imported"] + c["updated"] for c in run.counts.values())
    logger.info("import_supabase_delta", extra={"data": {"run": str(run.pk), "changed": changed}})
    return str(run.pk)
