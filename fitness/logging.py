"""Request-scoped logging context.

A context variable rather than a thread-local, because ASGI serves many requests on one
thread and Celery tasks and WebSocket consumers run in their own contexts.
"""

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True
