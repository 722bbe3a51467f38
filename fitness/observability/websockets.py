"""One log line when a WebSocket is accepted and one when it closes, and the open-sockets
gauge, for every consumer: an ASGI middleware that watches the messages going by."""

import logging
import time

from django.urls import URLPattern

from fitness.observability import metrics
from fitness.observability.requests import UNMATCHED_ROUTE, named_template

logger = logging.getLogger("fitness.websocket")


def _route(patterns: list[URLPattern], path: str) -> str:
    """The pattern that will serve `path`, as URLRouter matches it: the outer middleware
    never sees the scope URLRouter makes."""
    for pattern in patterns:
        if pattern.pattern.match(path.lstrip("/")):
            return named_template(str(pattern.pattern))
    return UNMATCHED_ROUTE


class WebSocketObserver:
    def __init__(self, app, patterns: list[URLPattern]) -> None:
        self.app = app
        self.patterns = patterns

    async def __call__(self, scope: dict, receive, send) -> None:
        route = _route(self.patterns, scope.get("path", ""))
        user = scope.get("user")
        user_id = str(user.pk) if getattr(user, "is_authenticated", False) else None
        accepted_at: float | None = None
        closed = False

        def log_close(code: int | None, closed_by: str) -> None:
            nonlocal closed
            if accepted_at is None or closed:
                return
            closed = True
            metrics.WEBSOCKETS_OPEN.labels(route=route).dec()
            logger.info(
                "WebSocket %s closed (%s)",
                route,
                code,
                extra={
                    "route": route,
                    "user_id": user_id,
                    "event": "close",
                    "close_code": code,
                    "closed_by": closed_by,
                    "duration_ms": round((time.perf_counter() - accepted_at) * 1000, 3),
                },
            )

        async def observed_send(message: dict) -> None:
            nonlocal accepted_at
            await send(message)
            if message["type"] == "websocket.accept" and accepted_at is None:
                accepted_at = time.perf_counter()
                metrics.WEBSOCKETS.labels(route=route).inc()
                metrics.WEBSOCKETS_OPEN.labels(route=route).inc()
                logger.info(
                    "WebSocket %s connected",
                    route,
                    extra={"route": route, "user_id": user_id, "event": "connect"},
                )
            elif message["type"] == "websocket.close":
                log_close(message.get("code", 1000), "server")

        async def observed_receive() -> dict:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                log_close(message.get("code", 1005), "client")
            return message

        try:
            await self.app(scope, observed_receive, observed_send)
        finally:
            # The consumer ended (or was cancelled) without either side closing.
            log_close(None, "server")
