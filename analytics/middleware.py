import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from analytics import requests
from fitness.observability.requests import route_template

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RouteStatsMiddleware:
    """Counts every request under its route template (never the raw path: ids would make
    every object its own route) with its status and duration."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        requests.record(**_labels(request, response, started))
        return response

    async def __acall__(self, request: HttpRequest):
        started = time.perf_counter()
        response = await self.get_response(request)
        # In memory only (analytics.requests): nothing here can stall the event loop.
        requests.record(**_labels(request, response, started))
        return response


def _labels(request: HttpRequest, response: HttpResponse, started: float) -> dict:
    return {
        # A client may send any method name; only the standard ones get their own label.
        "method": request.method if request.method in _METHODS else "OTHER",
        # The same template the request's log line and metrics name it by.
        "route": route_template(request),
        "status": response.status_code,
        "duration_ms": (time.perf_counter() - started) * 1000,
    }
