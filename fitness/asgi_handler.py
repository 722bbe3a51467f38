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

Around the view, Django's `handle` makes two more hops: one for the `request_started`
signal and one to close the response (`request_finished`), and it runs the view in a task
beside another that listens for the client leaving. Here the signal, the view and, for a
response already in memory, its closing are one hop; and only a streamed response, whose
rendering a departed client should stop, is sent with Django's listener beside it. (A
synchronous view runs to its end anyway: the listener cannot stop a thread.)

Django gives each request a thread of its own (a `ThreadSensitiveContext`), which asgiref
starts for the request and then joins from yet another thread: two thread starts per
request. Here each request takes an idle one-thread executor left by the requests before
it, and gives it back when it is done with it. Its one hop goes straight to that executor
(a `SyncToAsync` bound to it, built once per thread), so the request needs no
`ThreadSensitiveContext` with its context-local bookkeeping, nor a `SyncToAsync` built for
it: together about 1% of a list request's instructions. Code the view runs through
`async_to_sync` still comes back to the view's thread, since asgiref sends it to the thread
that waits. Only a streamed response, whose iterator Django may consume with a
thread-sensitive `sync_to_async` on the loop, is sent inside
`ThreadSensitiveContext(executor=...)`, which sends those calls to the request's thread too.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from tempfile import SpooledTemporaryFile
from typing import Any

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

# Threads kept beyond what the current concurrency needs are ended (a burst leaves no
# crowd of idle threads behind).
MAX_IDLE_THREADS = 16


class _RequestThread(ThreadPoolExecutor):
    """One thread that runs one request's calls in turn; it knows whether it is still busy."""

    def __init__(self, respond: Callable[..., HttpResponseBase]) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self._last: Future | None = None
        # A SyncToAsync keeps no state of a call, so one serves all of the thread's requests.
        self.respond = SyncToAsync(respond, thread_sensitive=False, executor=self)

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
        thread = self._idle.pop() if self._idle else _RequestThread(self._respond)
        try:
            await self._handle(scope, receive, send, thread)
        finally:
            if thread.idle and len(self._idle) < MAX_IDLE_THREADS:
                self._idle.append(thread)
            else:
                if not thread.idle:
                    # Cancelled in its view (the server stopping): the view's response is
                    # never closed, so its thread ends the request once the view returns,
                    # as Django's handler has it (its database connection closed).
                    thread.submit(signals.request_finished.send, sender=self.__class__)
                thread.shutdown(wait=False)

    async def _handle(self, scope, receive, send, thread: _RequestThread) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await thread.respond(scope, body_file)
            if response.streaming:
                async with ThreadSensitiveContext(executor=thread):
                    await self._stream(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def _respond(self, scope, body_file: SpooledTemporaryFile) -> HttpResponseBase:
        """The request's response, on the request's thread; closed if it is in memory."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                # The server chunks the body itself (as Django's handler does).
                response.block_size = self.chunk_size
        if not response.streaming:
            # Its bytes are in memory already: sent after the close, they are the same.
            response.close()
        return response

    async def _stream(self, response: HttpResponseBase, receive, send) -> None:
        """Send a streamed response until it ends or the client leaves, then close it."""
        sending = asyncio.create_task(self.send_response(response, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait((sending, listening), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sending, listening):
                task.cancel()
            outcomes = await asyncio.gather(sending, listening, return_exceptions=True)
            await sync_to_async(response.close)()
        for outcome in outcomes:
            # A client that left, and the task cancelled because of it, are the ends
            # Django's handler ignores too; anything else is an error.
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, RequestAborted | asyncio.CancelledError
            ):
                raise outcome
