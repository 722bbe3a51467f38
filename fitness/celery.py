import os

from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_init
from django.core.exceptions import ImproperlyConfigured

from fitness.observability.tracing import configure_tracing
from fitness.startup import require_real_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")

app = Celery("fitness")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Autodiscovery imports each app's `tasks` module; ai_assistant keeps its tasks with the
# feature they serve.
app.autodiscover_tasks(["ai_assistant.recognition"])


@worker_init.connect
@beat_init.connect
def _refuse_weak_secret(**_: object) -> None:
    # Celery logs and swallows exceptions from signal handlers; exiting is what stops it.
    try:
        require_real_secret_key()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"Refusing to start: {exc}") from exc


@worker_init.connect
def _serve_worker_metrics(**_: object) -> None:
    from django.conf import settings

    from fitness.observability.metrics import serve_metrics

    if settings.WORKER_METRICS_PORT:
        serve_metrics(settings.WORKER_METRICS_PORT)


@worker_process_init.connect
def _trace_pool_process(**_: object) -> None:
    # In each pool child: the exporter's thread would not survive the fork from the parent.
    configure_tracing("fitness-worker")
