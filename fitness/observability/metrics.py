"""The service's Prometheus metrics, defined once, and the `/metrics` view that serves them.

Several processes serve one deployment (uvicorn workers, Celery children), so with
`PROMETHEUS_MULTIPROC_DIR` set prometheus-client keeps each process's values in files there
and a scrape of any process adds them all up. Without it (one process: `make run`, the
tests) the values live in memory. Names follow Prometheus' naming guide: `_total` counters,
base units (`_seconds`), labels of small, bounded sets (a route template, never a path).
"""

import atexit
import hmac
import ipaddress
import logging
import os
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger(__name__)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # A process that ends takes its open WebSockets with it: its `livesum` gauge files stop
    # counting (uvicorn workers are spawned, so each registers its own pid).
    atexit.register(mark_process_dead, os.getpid())

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the request reaching Django to its response.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_DB_QUERIES = Histogram(
    "http_request_db_queries",
    "Database queries one request made.",
    ["method", "route"],
    buckets=(0, 1, 2, 3, 5, 10, 20, 50, 100, 200),
)

CELERY_TASKS = Counter("celery_tasks_total", "Celery task runs by outcome.", ["task", "outcome"])
CELERY_TASK_DURATION = Histogram(
    "celery_task_duration_seconds", "Run time of a Celery task.", ["task"], buckets=_TASK_BUCKETS
)
CELERY_TASK_QUEUE_WAIT = Histogram(
    "celery_task_queue_wait_seconds",
    "Time a task waited between being queued and starting.",
    ["task"],
    buckets=_TASK_BUCKETS,
)

WEBSOCKETS_OPEN = Gauge(
    "websocket_connections_open",
    "WebSockets open now.",
    ["route"],
    multiprocess_mode="livesum",
)
WEBSOCKETS = Counter("websocket_connections_total", "WebSockets accepted.", ["route"])

AI_REQUESTS = Counter(
    "ai_requests_total", "Gemini calls by outcome.", ["endpoint", "model", "outcome"]
)
AI_TOKENS = Counter(
    "ai_tokens_total",
    "Tokens of Gemini calls; `out` includes thinking tokens (billed as output).",
    ["endpoint", "model", "direction"],
)
AI_DURATION = Histogram(
    "ai_request_duration_seconds",
    "Latency of a Gemini call, its retries included.",
    ["endpoint", "model"],
    buckets=_LATENCY_BUCKETS,
)
AI_COST = Counter(
    "ai_estimated_cost_usd_total",
    "Estimated Gemini cost from the AI_PRICE_* settings.",
    ["endpoint", "model"],
)
AI_CACHE = Counter("ai_cache_requests_total", "Reads of the AI caches.", ["cache", "result"])
RECOGNITION_JOBS = Counter(
    "recognition_jobs_total", "Photo recognition jobs finished.", ["outcome", "reason"]
)

LOGIN_FAILURES = Counter("login_failures_total", "Refused logins.", ["surface", "reason"])
LOGIN_LOCKOUTS = Counter(
    "login_lockouts_total", "Accounts or addresses locked out after failed logins.", ["surface"]
)


# The Celery worker's main process forks its pool children (at start, and again for each
# child it replaces) while a scrape may be reading the broker on another thread. A child
# forked then inherited the broker pool's lock held, and hung for good in kombu's after-fork
# reset of that pool (seen as a worker that took a task and never ran it). A fork waits for
# the read to end instead (bounded by the read's one retry and the broker's timeouts); the
# child gets the lock free.
_BROKER_READ = threading.Lock()
os.register_at_fork(
    before=_BROKER_READ.acquire,
    after_in_parent=_BROKER_READ.release,
    after_in_child=_BROKER_READ.release,
)


class _BrokerQueues:
    """`celery_queue_length`, read from the broker at scrape time: the queue lives there,
    not in any process, so no process can count it as it goes."""

    def collect(self) -> Iterator[Metric]:
        from fitness.celery import app

        family = GaugeMetricFamily(
            "celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"]
        )
        try:
            with _BROKER_READ, app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1)
                channel = connection.default_channel
                for queue in app.amqp.queues:
                    family.add_metric([queue], _queue_length(channel, queue))
        # Any failure of the broker (down, refusing, slow) must not fail the whole scrape.
        except Exception as exc:
            logger.warning("Broker queue length unavailable: %s", type(exc).__name__)
            return
        yield family


def _queue_length(channel, queue: str) -> int:
    try:
        return channel.queue_declare(queue=queue, passive=True).message_count
    except channel.connection.channel_errors:
        return 0  # never declared: no worker has consumed it yet, and nothing waits


class _ThisProcess:
    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _registry(*, broker: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    if broker:
        registry.register(_BrokerQueues())
    return registry


def read_metrics() -> Iterator[Metric]:
    """What a scrape would report, all processes summed (in multiprocess mode), for readers
    inside the service (the staff dashboard); the broker's queue lengths left out."""
    return _registry(broker=False).collect()


def _may_scrape(request: HttpRequest) -> bool:
    from fitness.admin_security import client_ip  # imports models: not at settings time

    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode()):
        return True
    if not settings.METRICS_ALLOWED_CIDRS:
        return False
    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_CIDRS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format for a scraper holding METRICS_TOKEN or calling from
    METRICS_ALLOWED_CIDRS; everyone else, 403 (with neither set, nobody)."""
    if not _may_scrape(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # a scrape every 30 s is no news


# Scraped from other machines (the collectors); the token or network check guards it.
def serve_metrics(port: int, host: str = "0.0.0.0") -> WSGIServer:  # noqa: S104
    """The same /metrics, behind the same check, on a port of its own, for a process that
    serves no HTTP (the Celery worker's main process, which reports its pool through
    PROMETHEUS_MULTIPROC_DIR). Serves from a daemon thread."""
    from django.core.handlers.wsgi import WSGIRequest

    def app(environ, start_response):
        response = metrics_view(WSGIRequest(environ))
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
