"""OpenTelemetry traces, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

The SDK reads the standard OTEL_* variables itself (endpoint, headers, OTEL_SERVICE_NAME,
OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY...); nothing is set here that an operator might
want to change. Instrumented: Django (a server span per request), psycopg (each query),
Redis (cache, rate limits, channel layer), Celery (publish and run, with the context carried
in the message headers, so a task continues the trace of the request that queued it), and
httpx and requests (outgoing calls: Gemini through google-genai's httpx client, Firebase
certificates).

Called once per serving process before Django builds its middleware chain (ASGI, WSGI), and
in each Celery pool process after the fork (the exporter's thread does not survive one).
"""

import logging
import os

logger = logging.getLogger(__name__)

_configured = False


def tracing_enabled() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(service_name: str) -> bool:
    """Sets up the tracer provider and the instrumentations; False (and nothing done) when
    no OTLP endpoint is configured."""
    global _configured
    if _configured or not tracing_enabled():
        return _configured
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME, when set, wins over the process's default name.
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)

    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    RequestsInstrumentor().instrument()
    _configured = True
    logger.info("Tracing on: spans exported over OTLP/HTTP", extra={"service": service_name})
    return True
