"""Tracing is off unless an OTLP endpoint is configured (the span tree itself is tested
end to end in tests/ai_assistant/test_tracing.py)."""

from django.conf import settings
from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor

from fitness.observability.tracing import configure_tracing


def test_tracing_stays_off_without_an_otlp_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)

    assert configure_tracing("fitness-api") is False
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert not DjangoInstrumentor().is_instrumented_by_opentelemetry
    assert not [name for name in settings.MIDDLEWARE if "opentelemetry" in name]
