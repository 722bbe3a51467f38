"""One log line and the HTTP metrics for every request."""

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from fitness.observability import metrics

logger = logging.getLogger("fitness.request")

# `<uuid:pk>` and `<pk>` both read `{pk}`: the template, whatever converter it uses.
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
UNMATCHED_ROUTE = "<unmatched>"
STATIC_ROUTE = "<static>"


def named_template(route: str) -> str:
    return "/" + _CONVERTER.sub(r"{\1}", route)


def route_template(request: HttpRequest) -> str:
    """The URL pattern that served the request, with its parameters named and not filled in,
    so neither logs nor metric labels ever hold ids (or tokens, such as a signed link's)."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return named_template(match.route)
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return STATIC_ROUTE
    return UNMATCHED_ROUTE


def _severity(status: int) -> int:
    # A 503 is an outage or a full server, an operational state already logged (once, as
    # a warning) where it was met; it is no bug to page anyone about.
    if status >= 500 and status != 503:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    return logging.INFO


def _user_id(request: HttpRequest) -> str | None:
    # Read only when something already resolved it: resolving a lazy session user here
    # would cost a query the request itself never made.
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return str(user.pk) if getattr(user, "is_authenticated", False) else None


def _protocol(request: HttpRequest) -> str:
    # ASGI requests name their HTTP version in the scope, not in META.
    scope = getattr(request, "scope", None)
    if scope and scope.get("http_version"):
        return f"HTTP/{scope['http_version']}"
    return request.META.get("SERVER_PROTOCOL", "")


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any):
        self.count += 1
        return execute(sql, params, many, context)


class RequestObservabilityMiddleware:
    """Writes the request's line (Cloud Logging's `httpRequest`) and its metrics.

    Placed right after RequestIDMiddleware, so it sees every response the others produce,
    with the request id already set. The line replaces Django's own `django.request`
    warnings and errors for 4xx/5xx answers, which would say the same thing again (a 503
    logged twice as an ERROR); a view's unhandled exception keeps its one traceback line.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        queries = _QueryCounter()
        with connections["default"].execute_wrapper(queries):
            response = self.get_response(request)
        duration = time.perf_counter() - started
        response._has_been_logged = True
        self._record(request, response, duration, queries.count)
        return response

    def _record(
        self, request: HttpRequest, response: HttpResponse, duration: float, queries: int
    ) -> None:
        route = route_template(request)
        method = request.method or "-"
        status = response.status_code
        labels = {"method": method, "route": route, "status": str(status)}
        metrics.HTTP_REQUESTS.labels(**labels).inc()
        metrics.HTTP_DURATION.labels(**labels).observe(duration)
        metrics.HTTP_DB_QUERIES.labels(method=method, route=route).observe(queries)
        http_request = {
            "requestMethod": method,
            # The template, not the URL: no ids, and no query string (`?token=`).
            "requestUrl": route,
            "status": status,
            "latency": f"{duration:.6f}s",
            "protocol": _protocol(request),
            "userAgent": request.headers.get("User-Agent", "")[:256],
        }
        if not response.streaming:
            http_request["responseSize"] = str(len(response.content))
        logger.log(
            _severity(status),
            "%s %s %s",
            method,
            route,
            status,
            extra={
                "httpRequest": http_request,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "db_queries": queries,
                "user_id": _user_id(request),
            },
        )
