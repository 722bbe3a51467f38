"""Django's ASGI handler, running each HTTP request's middleware and view in one thread hop.

Under ASGI, Django builds the middleware chain in async mode. Its own middleware
(MiddlewareMixin) then runs every `process_request` and `process_response` hook through
`sync_to_async`, and each sync-only middleware in between switches back with
`async_to_sync`: about a dozen hops between the event loop and a worker thread per request,
each one costing CPU and a thread wake-up. Every HTTP view here is synchronous, so this
handler builds the chain as WSGI does and runs the whole of it, view included, in one
`sync_to_async` call, in the thread Django gives the request (ThreadSensitiveContext).
Reading the request body, sending the response and WebSockets stay as Django and Channels
do them.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
