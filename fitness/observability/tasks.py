"""One log line and the task metrics for every Celery task run, through Celery's signals.

The publishing side stamps each message with the time it was queued and the request id of
whoever queued it, so a task's line tells how long it waited and which request it serves.
Connected from FitnessConfig.ready(), so workers and the web processes (which publish)
both have them.
"""

import logging
import time
from typing import Any

from celery import signals

from fitness.logging import request_id_var
from fitness.observability import metrics

logger = logging.getLogger("fitness.task")

QUEUED_AT_HEADER = "ff_queued_at"
REQUEST_ID_HEADER = "ff_request_id"

_OUTCOMES = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry", "REJECTED": "rejected"}
_SEVERITY = {"success": logging.INFO, "retry": logging.WARNING}
_started: dict[str, tuple[float, float | None]] = {}


def _request_header(task: Any, name: str) -> Any:
    # A worker makes a message's custom headers attributes of the task's request; an eager
    # `apply(headers=...)` keeps them under `headers`.
    value = getattr(task.request, name, None)
    return value if value is not None else (task.request.headers or {}).get(name)


@signals.before_task_publish.connect
def _stamp(headers: dict | None = None, **_: Any) -> None:
    if headers is not None:
        headers[QUEUED_AT_HEADER] = time.time()
        headers[REQUEST_ID_HEADER] = request_id_var.get()


@signals.task_prerun.connect
def _started_run(task_id: str, task: Any, **_: Any) -> None:
    queued_at = _request_header(task, QUEUED_AT_HEADER)
    waited = max(0.0, time.time() - float(queued_at)) if queued_at else None
    request_id = _request_header(task, REQUEST_ID_HEADER)
    # An eager task runs inside its request and keeps that request's id anyway.
    if request_id and request_id != "-":
        request_id_var.set(request_id)
    if waited is not None:
        metrics.CELERY_TASK_QUEUE_WAIT.labels(task=task.name).observe(waited)
    _started[task_id] = (time.perf_counter(), waited)


@signals.task_postrun.connect
def _finished_run(task_id: str, task: Any, state: str | None = None, **_: Any) -> None:
    started, waited = _started.pop(task_id, (None, None))
    duration = time.perf_counter() - started if started is not None else None
    outcome = _OUTCOMES.get(state or "", (state or "unknown").lower())
    metrics.CELERY_TASKS.labels(task=task.name, outcome=outcome).inc()
    if duration is not None:
        metrics.CELERY_TASK_DURATION.labels(task=task.name).observe(duration)
    logger.log(
        _SEVERITY.get(outcome, logging.ERROR),
        "Task %s %s",
        task.name,
        outcome,
        extra={
            "task": task.name,
            "task_id": task_id,
            "outcome": outcome,
            "retries": task.request.retries or 0,
            "duration_ms": round(duration * 1000, 3) if duration is not None else None,
            "queue_wait_ms": round(waited * 1000, 3) if waited is not None else None,
        },
    )
