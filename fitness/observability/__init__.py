"""What operators see of the running service: one structured log line per request, task and
WebSocket, Prometheus metrics, OpenTelemetry traces and Sentry."""
