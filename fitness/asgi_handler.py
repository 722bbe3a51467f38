"""Django's ASGI handler, running each HTTP request's middleware and view in one thread hop,
on a thread kept from an earlier request.

Under ASGI, Django builds the middleware chain in async mode. Its own middleware
(MiddlewareMixin) then runs every `process_request` and `process_response` hook through
`sync_to_async`, and each sync-only middleware in between switches back with
`async_to_sync`: about a dozen hops between the event loop and a worker thread per request,
each one costing CPU and a thread wake-up. Every HTTP view here is synchronous, so this
handler builds the chain as WSGI does and runs the whole of it, view included, in one
`sync_to_async` call. Reading the request body, sending the response and WebSockets stay as
Django and Channels do them.

Django gives each request a thread of its own (a `ThreadSensitiveContext`), which asgiref
starts for the request and then joins from yet another thread: two thread starts per
request. asgiref's `ThreadSensitiveContext(executor=...)` runs the context on an executor
the caller owns, so each request here takes an idle one-thread executor left by the
requests before it, and gives it back when it is done with it.
"""

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

# Threads kept beyond what the current concurrency needs are ended (a burst leaves no
# crowd of idle threads behind).
MAX_IDLE_THREADS = 16


class _RequestThread(ThreadPoolExecutor):
    """One thread that runs one request's calls in turn; it knows whether it is still busy."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self._last: Future | None = None

    def submit(self, fn, /, *args: Any, **kwargs: Any) -> Future:
        self._last = super().submit(fn, *args, **kwargs)
        return self._last

    @property
    def idle(self) -> bool:
        # A request cancelled (the server stopping) ends while its view may still run on
        # this thread: handed to the next request, that one would wait for it.
        return self._last is None or self._last.done()


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        # Touched only on the event loop's thread, so no lock.
        self._idle: list[_RequestThread] = []

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        thread = self._idle.pop() if self._idle else _RequestThread()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            if thread.idle and len(self._idle) < MAX_IDLE_THREADS:
                self._idle.append(thread)
            else:
                thread.shutdown(wait=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
