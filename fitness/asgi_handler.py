"""Django's ASGI handler, running each HTTP request's middleware and view in one thread hop,
on a thread kept from an earlier request.

Under ASGI, Django builds the middleware chain in async mode. Its own middleware
(MiddlewareMixin) then runs every `process_request` and `process_response` hook through
`sync_to_async`, and each sync-only middleware in between switches back with
`async_to_sync`: about a dozen hops between the event loop and a worker thread per request,
each one costing CPU and a thread wake-up. Every HTTP view here is synchronous, so this
handler builds the chain as WSGI does and runs the whole of it, view included, in one
call on a worker thread. Reading the request body, sending the response and WebSockets stay as
Django and Channels do them.

Around the view, Django's `handle` makes two more hops: one for the `request_started`
signal and one to close the response (`request_finished`), and it runs the view in a task
beside another that listens for the client leaving. Here the signal, the view and, for a
response already in memory, its closing are one hop; and only a streamed response, whose
rendering a departed client should stop, is sent with Django's listener beside it. (A
synchronous view runs to its end anyway: the listener cannot stop a thread.)

Django gives each request a thread of its own (a `ThreadSensitiveContext`), which asgiref
starts for the request and then joins from yet another thread: two thread starts per
request. Here each request takes an idle thread left by the requests before it, and gives
it back when it is done with it. The hop to it is written here rather than taken from
asgiref or a ThreadPoolExecutor: `sync_to_async` checks the function for a coroutine,
chains a thread future to a loop future through `wrap_future`, shields the wait and copies
every context variable back afterwards, and the executor's `submit` builds a future with
its own condition and takes two locks and a semaphore, each time. The hop here puts the
call on the thread's queue and has the thread answer the loop with one
`call_soon_threadsafe`. Side by side on a food-log page, the two changes (no asgiref in
the hop, then no executor) each took about 4% off the server's CPU a request, a good part
of it system time (fewer thread wake-ups and lock handoffs), though they count only 1% of
the instructions. The call runs in
a copy of the caller's context, as asgiref runs it, and code the view runs through
`async_to_sync` still comes back to the view's thread, since asgiref sends it to the
thread that waits. Only a streamed response, whose iterator Django may consume with a
thread-sensitive `sync_to_async` on the loop, is sent inside
`ThreadSensitiveContext(executor=...)`, which sends those calls to the request's thread
too (the thread is an `Executor` for that).

The URL of a request is resolved once per path (see `_resolve`), and a response in memory
lets go of what its view rendered once its bytes are made (see `_respond`).
"""

import asyncio
import atexit
import contextlib
import contextvars
import functools
import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future
from queue import SimpleQueue
from tempfile import SpooledTemporaryFile
from typing import Any

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.urls import ResolverMatch, URLResolver, get_resolver, set_script_prefix

# Threads kept beyond what the current concurrency needs are ended (a burst leaves no
# crowd of idle threads behind).
MAX_IDLE_THREADS = 16


class _Call:
    """One call for a request's thread: to answer on the loop (`loop`, `outcome`), or a
    `Future`'s, for what asgiref submits to the thread as an executor."""

    __slots__ = ("args", "cancelled", "context", "done", "fn", "future", "loop", "outcome")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple = (),
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        outcome: asyncio.Future | None = None,
        future: Future | None = None,
    ) -> None:
        self.fn, self.args = fn, args
        self.loop, self.outcome, self.future = loop, outcome, future
        self.context = contextvars.copy_context() if loop is not None else None
        self.cancelled = False
        # Written last by the thread, read by the loop: a plain flag is enough.
        self.done = False

    def run(self) -> None:
        if self.cancelled or (
            self.future is not None and not self.future.set_running_or_notify_cancel()
        ):
            self.done = True
            return
        result = error = None
        try:
            if self.loop is None:
                result = self.fn(*self.args)
            else:
                result = self.context.run(self._call_for_loop)
        except BaseException as exc:  # handed to the waiting caller, as asgiref does
            error = exc
        # Before the caller hears of it: from then on the loop may hand the thread on.
        self.done = True
        if self.future is not None:
            if error is None:
                self.future.set_result(result)
            else:
                self.future.set_exception(error)
            return
        # A loop closed meanwhile (a test's) has no one left waiting, and raising here
        # would end the thread that later calls are queued to.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_settle, self.outcome, result, error)

    def _call_for_loop(self) -> Any:
        # What asgiref's own threads record for `async_to_sync`: the loop to send async
        # code to, so that the view's async calls run there and their sync parts come back.
        SyncToAsync.threadlocal.main_event_loop = self.loop
        SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
        return self.fn(*self.args)


def _settle(outcome: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if outcome.cancelled():
        return
    if error is None:
        outcome.set_result(result)
    else:
        outcome.set_exception(error)


class _RequestThread(Executor):
    """One thread that runs one request's calls in turn; it knows whether it is still busy."""

    def __init__(self) -> None:
        self._calls: SimpleQueue[_Call | None] = SimpleQueue()
        self._last: _Call | None = None
        # A daemon, so that idle threads never hold up the interpreter's exit; a busy one
        # is waited for at exit all the same (`_finish_requests`).
        self._thread = threading.Thread(target=self._work, name="request", daemon=True)
        self._thread.start()
        _threads.add(self)

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            call.run()

    def _enqueue(self, call: _Call) -> None:
        self._last = call
        self._calls.put(call)

    async def call(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        """`fn(*args)` on this thread, in a copy of the caller's context."""
        loop = asyncio.get_running_loop()
        call = _Call(fn, args, loop=loop, outcome=loop.create_future())
        self._enqueue(call)
        try:
            return await call.outcome
        except asyncio.CancelledError:
            # Not started yet, it never starts; started, it runs to its end (see `idle`).
            call.cancelled = True
            raise

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        self._enqueue(_Call(functools.partial(fn, *args, **kwargs), future=future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._calls.put(None)
        if wait and self._thread is not threading.current_thread():
            self._thread.join()

    @property
    def idle(self) -> bool:
        # A request cancelled (the server stopping) ends while its view may still run on
        # this thread: handed to the next request, that one would wait for it.
        return self._last is None or self._last.done


_threads: weakref.WeakSet[_RequestThread] = weakref.WeakSet()


@atexit.register
def _finish_requests() -> None:
    """Waits at exit for views still running, as a ThreadPoolExecutor's threads are waited
    for: a view cut off between its commit and its on-commit work would lose the latter."""
    for thread in list(_threads):
        thread.shutdown(wait=True)


@functools.lru_cache(maxsize=1024)
def _resolve(resolver: URLResolver, path: str) -> ResolverMatch:
    """`resolver.resolve(path)`, remembered: the same path always resolves to the same
    match (no URL here depends on the language), and resolving walks every pattern before
    the matching one, down the includes: 2% of a food-log page's instructions. A path that
    does not resolve raises, which is not remembered."""
    return resolver.resolve(path)


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        # Touched only on the event loop's thread, so no lock.
        self._idle: list[_RequestThread] = []

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        if hasattr(request, "urlconf"):  # set by a middleware for this request only
            return super().resolve_request(request)
        request.resolver_match = _resolve(get_resolver(), request.path_info)
        return request.resolver_match

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        thread = self._idle.pop() if self._idle else _RequestThread()
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
        prefix = get_script_prefix(scope)
        try:
            response = await thread.call(self._respond, scope, body_file, prefix)
            if response.streaming:
                # Its iterator may run on this side, and may reverse URLs.
                set_script_prefix(prefix)
                async with ThreadSensitiveContext(executor=thread):
                    await self._stream(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def _respond(self, scope, body_file: SpooledTemporaryFile, prefix: str) -> HttpResponseBase:
        """The request's response, on the request's thread; closed if it is in memory."""
        set_script_prefix(prefix)
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
            # A DRF response, its view and its request refer to one another, so what the
            # view rendered (a workout page: a thousand dicts and lists) outlived the
            # request until the cyclic collector found it, and each of those collections
            # walked tens of thousands of objects: a tenth of the list's CPU, against a
            # hundredth once only the bytes to send are kept (the collector's callbacks
            # timed over 500 pages in-process; the README's benchmarks).
            vars(response).pop("data", None)
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
