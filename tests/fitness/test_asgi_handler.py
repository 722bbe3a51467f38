"""`fitness.asgi_handler.OneHopASGIHandler` runs each request on a thread kept from the
requests before it: one at a time they share a thread, at once each has its own, and a
thread still busy when its request ended (cancelled) is never handed to the next. The
request's signals, view and closing are one hop to that thread, which runs the call in a
copy of the caller's context and hands back its result or its exception; a streamed
response is sent until the client leaves. A body reaches the view whole, however it
came; a path's resolution is remembered; what a view rendered is freed once its response
is made, and a call still running at exit is waited for."""

import asyncio
import contextvars
import gc
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from fitness.asgi_handler import OneHopASGIHandler, _RequestThread, _resolve
from tests.storage.test_asgi import Recorder, http_scope


class Threads:
    """Which thread answered each request; `hold` keeps a request's view waiting."""

    def __init__(self, handler: OneHopASGIHandler) -> None:
        self.seen: list[threading.Thread] = []
        self.hold: threading.Event | None = None
        self.barrier: threading.Barrier | None = None
        answer = handler.get_response

        def get_response(request):
            self.seen.append(threading.current_thread())
            if self.barrier is not None:
                self.barrier.wait()
            if self.hold is not None:
                hold, self.hold = self.hold, None
                hold.wait(timeout=10)
            return answer(request)

        handler.get_response = get_response


async def _get(handler: OneHopASGIHandler) -> Recorder:
    io = Recorder([{"type": "http.request", "body": b""}])
    # Out of messages, Recorder answers http.disconnect: this client stays instead.
    staying = asyncio.Event()
    receive = io.receive

    async def stay():
        if io.incoming:
            return await receive()
        await staying.wait()

    io.receive = stay
    scope = {**http_scope("/healthz"), "method": "GET"}
    await asyncio.wait_for(handler(scope, io.receive, io.send), timeout=10)
    return io


@pytest.fixture
def handler():
    return OneHopASGIHandler()


async def test_requests_one_after_another_share_one_thread(handler):
    threads = Threads(handler)

    for _ in range(3):
        assert (await _get(handler)).status == 200

    assert len(set(threads.seen)) == 1
    assert threads.seen[0] is not threading.current_thread()


async def test_requests_at_once_each_get_a_thread(handler):
    threads = Threads(handler)
    # Each view waits until both are in one: on one shared thread, that would never be.
    threads.barrier = threading.Barrier(2, timeout=5)

    answers = await asyncio.gather(_get(handler), _get(handler))

    assert [io.status for io in answers] == [200, 200]
    assert len(set(threads.seen)) == 2


async def test_a_thread_still_busy_when_its_request_ended_is_not_handed_on(handler):
    threads = Threads(handler)
    threads.hold = held = threading.Event()
    cancelled = asyncio.create_task(_get(handler))
    while not threads.seen:
        await asyncio.sleep(0.01)

    # Cancelled (a server shutting down), the request ends with its view still running.
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    try:
        answered = await _get(handler)
    finally:
        held.set()

    assert answered.status == 200
    assert threads.seen[0] is not threads.seen[1]


async def test_the_signals_the_view_and_the_close_are_one_hop(handler, monkeypatch):
    threads = Threads(handler)
    ends: list[tuple[str, threading.Thread]] = []
    hops = []
    enqueue = _RequestThread._enqueue

    def counted(self, call):
        hops.append(call)
        return enqueue(self, call)

    monkeypatch.setattr(_RequestThread, "_enqueue", counted)

    def started(**kwargs):
        ends.append(("started", threading.current_thread()))

    def finished(**kwargs):
        ends.append(("finished", threading.current_thread()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        io = await _get(handler)
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)

    assert io.status == 200
    [view] = threads.seen
    assert ends == [("started", view), ("finished", view)]
    assert len(hops) == 1


async def test_a_streamed_response_stops_when_the_client_leaves(handler):
    produced = 0
    closed = threading.Event()

    async def endless():
        nonlocal produced
        while True:
            produced += 1
            yield b"x"
            await asyncio.sleep(0.01)

    def get_response(request):
        response = StreamingHttpResponse(endless())
        response._resource_closers.append(closed.set)
        return response

    handler.get_response = get_response
    io = Recorder([{"type": "http.request", "body": b""}])
    # After the request, Recorder answers http.disconnect: the client has left.
    scope = {**http_scope("/healthz"), "method": "GET"}

    await asyncio.wait_for(handler(scope, io.receive, io.send), timeout=10)

    assert io.status == 200
    assert closed.is_set()
    stopped_at = produced
    await asyncio.sleep(0.1)
    assert produced == stopped_at


# Django warns that it consumes a synchronous iterator in a thread: here that is the point.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
async def test_a_streamed_responses_iterator_and_close_run_on_the_views_thread(handler):
    views: list[threading.Thread] = []
    ran_on: dict[str, threading.Thread] = {}

    def chunks():
        # A sync iterator: Django consumes it with a thread-sensitive sync_to_async.
        ran_on["iterator"] = threading.current_thread()
        yield b"one"

    def get_response(request):
        views.append(threading.current_thread())
        response = StreamingHttpResponse(chunks())
        response._resource_closers.append(
            lambda: ran_on.setdefault("close", threading.current_thread())
        )
        return response

    handler.get_response = get_response

    io = await _get(handler)

    assert io.status == 200
    assert b"".join(m.get("body", b"") for m in io.sent if m["type"] == "http.response.body") == (
        b"one"
    )
    [view] = views
    assert view is not threading.current_thread()
    assert ran_on == {"iterator": view, "close": view}


async def test_async_code_the_view_waits_for_comes_back_to_the_views_thread(handler):
    views: list[threading.Thread] = []
    back_on: list[threading.Thread] = []

    async def on_the_loop():
        await sync_to_async(lambda: back_on.append(threading.current_thread()))()

    def get_response(request):
        views.append(threading.current_thread())
        async_to_sync(on_the_loop)()
        return HttpResponse(b"ok")

    handler.get_response = get_response

    io = await _get(handler)

    assert io.status == 200
    assert back_on == views


_seen = contextvars.ContextVar("seen", default="unset")


async def test_a_call_runs_on_the_thread_in_a_copy_of_the_callers_context():
    thread = _RequestThread()
    _seen.set("caller")

    def work(number):
        seen = _seen.get()
        _seen.set("thread")
        return threading.current_thread(), seen, number * 2

    try:
        ran_on, seen, doubled = await thread.call(work, 21)
    finally:
        thread.shutdown()

    assert ran_on is not threading.current_thread()
    assert (seen, doubled) == ("caller", 42)
    # What the call set stays in its copy.
    assert _seen.get() == "caller"


async def test_a_calls_exception_reaches_the_caller():
    thread = _RequestThread()

    def fail():
        raise LookupError("from the thread")

    try:
        with pytest.raises(LookupError, match="from the thread"):
            await thread.call(fail)
        # The thread serves the next call.
        assert await thread.call(lambda: "next") == "next"
    finally:
        thread.shutdown()


async def test_a_call_cancelled_before_it_started_never_runs():
    thread = _RequestThread()
    release = threading.Event()
    ran = []
    try:
        busy = asyncio.ensure_future(thread.call(release.wait, 5))
        waiting = asyncio.ensure_future(thread.call(ran.append, "ran"))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert await busy is True
        await thread.call(lambda: None)
    finally:
        thread.shutdown()

    assert ran == []
    assert thread.idle


async def test_shutting_down_waits_for_the_call_that_runs():
    thread = _RequestThread()
    finished = []

    def slow():
        threading.Event().wait(0.2)
        finished.append(True)

    thread.submit(slow)
    await asyncio.to_thread(thread.shutdown, wait=True)

    assert finished == [True]
    assert thread.idle


def test_the_interpreter_waits_at_exit_for_a_call_still_running():
    # A view cut off at exit between its commit and its on-commit work would lose the
    # latter; the request threads are daemons, so only `_finish_requests` waits for them.
    script = textwrap.dedent(
        """
        import threading
        from fitness.asgi_handler import _RequestThread

        def view():
            threading.Event().wait(0.3)
            print("finished", flush=True)

        _RequestThread().submit(view)
        """
    )
    ended = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert (ended.returncode, ended.stdout) == (0, "finished\n"), ended.stderr


def _body_length(request):
    return HttpResponse(str(len(request.body)).encode())


def _post_scope():
    return {**http_scope("/echo"), "method": "POST"}


async def _post(handler, messages) -> Recorder:
    handler.get_response = _body_length
    io = Recorder(messages)
    await asyncio.wait_for(handler(_post_scope(), io.receive, io.send), timeout=10)
    return io


async def test_a_body_in_one_message_or_many_reaches_the_view_whole(handler):
    whole = await _post(handler, [{"type": "http.request", "body": b"x" * 1000}])
    in_parts = await _post(
        handler,
        [
            {"type": "http.request", "body": b"a" * 60, "more_body": True},
            {"type": "http.request", "body": b"b" * 60, "more_body": True},
            {"type": "http.request", "body": b"c" * 60},
        ],
    )

    assert (whole.status, whole.sent[1]["body"]) == (200, b"1000")
    assert (in_parts.status, in_parts.sent[1]["body"]) == (200, b"180")


async def test_a_client_leaving_mid_body_gets_no_answer(handler):
    with pytest.raises(RequestAborted):
        await handler.read_body(
            Recorder([{"type": "http.request", "body": b"a", "more_body": True}]).receive
        )
    io = await _post(handler, [{"type": "http.request", "body": b"a", "more_body": True}])

    assert io.sent == []


def _named(name):
    def view(request, number):
        return HttpResponse(f"{request.resolver_match.url_name} {number}".encode())

    return view


class _Page(dict):
    """A rendered page a test can hold a weak reference to."""


class _PageView(APIView):
    authentication_classes = ()
    permission_classes = ()
    rendered: weakref.ref | None = None

    def get(self, request):
        page = _Page(items=[{"n": n} for n in range(3)])
        _PageView.rendered = weakref.ref(page)
        return Response(page)


urlpatterns = [
    path("one/<int:number>", _named("one"), name="one"),
    path("page", _PageView.as_view()),
]
# A URLconf may be the patterns themselves; a tuple, since Django caches resolvers by it.
other_urlconf = (path("one/<int:number>", _named("other"), name="other"),)


async def _get_path(handler, url, urlconf=None) -> Recorder:
    get_response = handler.get_response

    def with_urlconf(request):
        if urlconf is not None:
            request.urlconf = urlconf
        return get_response(request)

    handler.get_response = with_urlconf
    io = Recorder([{"type": "http.request", "body": b""}])
    scope = {**http_scope(url), "method": "GET"}
    await asyncio.wait_for(handler(scope, io.receive, io.send), timeout=10)
    handler.get_response = get_response
    return io


async def test_a_paths_resolution_is_remembered_and_a_requests_own_urlconf_is_not(
    handler, settings
):
    settings.ROOT_URLCONF = __name__
    before = _resolve.cache_info()

    first = await _get_path(handler, "/one/1")
    again = await _get_path(handler, "/one/1")
    missing = await _get_path(handler, "/two")
    own = await _get_path(handler, "/one/1", urlconf=other_urlconf)

    assert [io.sent[1]["body"] for io in (first, again, own)] == [b"one 1", b"one 1", b"other 1"]
    assert missing.status == 404
    after = _resolve.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 2)


async def test_what_a_view_rendered_is_freed_when_its_response_is_sent(handler, settings):
    # A DRF view and its response refer to each other: with the cyclic collector off, the
    # page is freed only if the response no longer holds it once its bytes are made.
    settings.ROOT_URLCONF = __name__
    gc.disable()
    try:
        io = await _get_path(handler, "/page")
        assert _PageView.rendered is not None
        freed = _PageView.rendered() is None
    finally:
        gc.enable()

    assert (io.status, io.sent[1]["body"]) == (200, b'{"items":[{"n":0},{"n":1},{"n":2}]}')
    assert freed


def test_a_thread_whose_callers_loop_closed_serves_the_next_call():
    thread = _RequestThread()
    release = threading.Event()
    first = asyncio.new_event_loop()
    waiting = first.create_task(thread.call(release.wait, 5))
    first.run_until_complete(asyncio.sleep(0.05))
    # The loop goes before the call answers (a test's loop, closed at its end).
    waiting.cancel()
    first.run_until_complete(asyncio.gather(waiting, return_exceptions=True))
    first.close()
    release.set()

    try:
        answered = asyncio.run(asyncio.wait_for(thread.call(lambda: "answered"), timeout=5))
        assert answered == "answered"
    finally:
        thread.shutdown()
