"""WebSocket plumbing shared by every consumer: JWT auth, origin check, per-user events."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts.authentication import JWTAuthentication
from fitness.api.errors import BACKEND_OUTAGES, ApiError, ServiceUnavailable, log_outage

# Close codes: 4000 + the HTTP status a REST client would have seen.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
# RFC 6455 "Try Again Later": the revocation record could not be read (Redis is down).
CLOSE_TRY_AGAIN_LATER = 1013


def user_group(user_id: Any) -> str:
    return f"user.{user_id}"


def _raw_token(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
    # Browsers cannot set headers on a WebSocket, so they pass the token in the query.
    tokens = parse_qs(scope.get("query_string", b"").decode()).get("token")
    return tokens[0] if tokens else None


@database_sync_to_async
def _authenticate(raw: str):
    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(raw.encode())
        return auth.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed):
        return AnonymousUser()
    except ApiError as exc:
        # A refused Firebase ID token (invalid, or the bridge has ended) is anonymous too.
        if isinstance(exc, ServiceUnavailable):
            raise
        return AnonymousUser()


class JWTAuthMiddleware:
    """Puts the bearer's user (or AnonymousUser) in `scope["user"]`.

    Consumers accept and then close with 4401 for anonymous users, so clients see a
    close code they can act on instead of a failed handshake.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        raw = _raw_token(scope)
        try:
            user = await _authenticate(raw) if raw else AnonymousUser()
        except (*BACKEND_OUTAGES, ServiceUnavailable) as exc:
            # Fails closed, and cleanly: a token that cannot be checked is not let in, and
            # the client gets a close code it can retry on instead of an HTTP 500.
            log_outage(exc, f"WebSocket {scope.get('path', '?')}")
            await _accept_and_close(receive, send, CLOSE_TRY_AGAIN_LATER)
            return
        return await self.app({**scope, "user": user}, receive, send)


async def _accept_and_close(receive, send, code: int) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})


class AllowedHostsOrNoOriginValidator(OriginValidator):
    """Browsers always send Origin, and those must match ALLOWED_HOSTS or be one of the
    CORS_ALLOWED_ORIGINS (the app's web build, which may call the REST API too); native
    clients (the React Native app) may send none, and cannot be driven by a foreign page."""

    def __init__(self, application):
        allowed = (
            ["*"] if settings.DEBUG else [*settings.ALLOWED_HOSTS, *settings.CORS_ALLOWED_ORIGINS]
        )
        super().__init__(application, allowed)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


def send_user_event(user_id: Any, event_type: str, payload: dict) -> None:
    """Pushes `{"type": event_type, **payload}` to every open socket of one user."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        user_group(user_id), {"type": "user.event", "event": {"type": event_type, **payload}}
    )


def wait_for_user_event(
    user_id: Any,
    *,
    done: Callable[[], bool],
    wakes: Callable[[dict], bool],
    seconds: float,
    recheck_seconds: float,
) -> None:
    """Blocks a sync caller until `done()` holds or `seconds` pass, woken by the events
    sent to the user's sockets (`send_user_event`) from any process sharing the channel
    layer: a request can wait for what a worker announces, with no socket and no polling.

    `done` runs in the caller's thread (with its database connection): once subscribed,
    so nothing sent before is missed; then after each event for which `wakes(event)` is
    true, and after `recheck_seconds` without one (the channel layer may drop a message).
    """
    async_to_sync(_wait_for_user_event)(
        user_id, sync_to_async(done), wakes, seconds, recheck_seconds
    )


async def _wait_for_user_event(
    user_id: Any,
    done: Callable[[], Awaitable[bool]],
    wakes: Callable[[dict], bool],
    seconds: float,
    recheck_seconds: float,
) -> None:
    # One event loop for the whole wait: a channel's receive buffer belongs to the loop
    # that first read it, and a sync caller outside ASGI gets a new loop per async_to_sync.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = user_group(user_id)
    await layer.group_add(group, channel)
    try:
        if await done():
            return
        while (left := deadline - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(layer.receive(channel), min(left, recheck_seconds))
            except TimeoutError:
                message = None
            if (message is None or wakes(message.get("event") or {})) and await done():
                return
    finally:
        await layer.group_discard(group, channel)
