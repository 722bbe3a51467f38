"""`fitness.asgi_handler.OneHopASGIHandler` runs each request on a thread kept from the
requests before it: one at a time they share a thread, at once each has its own, and a
thread still busy when its request ended (cancelled) is never handed to the next. The
request's signals, view and closing are one hop to that thread; a streamed response is
sent until the client leaves."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core import signals
from django.http import HttpResponse, StreamingHttpResponse

from fitness.asgi_handler import OneHopASGIHandler, _RequestThread
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
    submit = _RequestThread.submit

    def counted(self, fn, /, *args, **kwargs):
        hops.append(fn)
        return submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(_RequestThread, "submit", counted)

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
