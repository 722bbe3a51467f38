"""CORS for the app's web build and local tools (django-cors-headers): no origin unless
CORS_ALLOWED_ORIGINS lists it, preflights answered before authentication."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from accounts import tokens
from fitness.routing import websocket_urlpatterns
from fitness.ws import AllowedHostsOrNoOriginValidator, JWTAuthMiddleware
from tests.conftest import client_for

WEB = "https://web.futurefitness.app"


def _preflight(client, path="/api/v1/food/logs", origin=WEB):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, x-device-id, if-match",
    )


def test_no_origin_is_allowed_by_default(client):
    response = _preflight(client)
    assert "access-control-allow-origin" not in response.headers


def test_preflight_of_a_listed_origin_is_answered_without_credentials(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [WEB]
    response = _preflight(client)
    # The view would answer 401 to an OPTIONS without a token: this never reached it.
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == WEB
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-device-id", "if-match"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


def test_preflight_of_an_unlisted_origin_gets_no_grant(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [WEB]
    response = _preflight(client, origin="https://evil.example")
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.django_db
def test_listed_origin_reads_responses_and_their_headers(user, settings):
    settings.CORS_ALLOWED_ORIGINS = [WEB]
    response = client_for(user).post(
        "/api/v1/food/logs", {"name": "Oats", "calories": 300}, format="json", HTTP_ORIGIN=WEB
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == WEB
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "location", "retry-after", "x-request-id"} <= exposed


@pytest.mark.django_db
def test_listed_origin_can_read_an_error_envelope(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [WEB]
    response = client.get("/api/v1/food/logs", HTTP_ORIGIN=WEB)
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == WEB
    assert response.json()["error"]["code"] == "not_authenticated"


def test_only_the_api_answers_cors(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [WEB]
    response = client.get("/healthz", HTTP_ORIGIN=WEB)
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("origin", "accepted"), [(WEB, True), ("https://evil.example", False)])
async def test_socket_accepts_a_listed_web_origin(user, settings, origin, accepted):
    settings.DEBUG = False
    settings.CORS_ALLOWED_ORIGINS = [WEB]
    application = AllowedHostsOrNoOriginValidator(
        JWTAuthMiddleware(URLRouter(websocket_urlpatterns))
    )
    token = (await database_sync_to_async(tokens.issue_pair)(user))["access_token"]
    communicator = WebsocketCommunicator(
        application, f"/ws/events/?token={token}", headers=[(b"origin", origin.encode())]
    )
    connected, _ = await communicator.connect()
    assert connected is accepted
    await communicator.disconnect()
