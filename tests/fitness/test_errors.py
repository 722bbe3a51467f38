import logging

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from fitness.urls import urlpatterns as real_urlpatterns
from tests.asserts import assert_error

pytestmark = pytest.mark.django_db


@api_view(["GET"])
@permission_classes([AllowAny])
def _explode(request):
    raise RuntimeError("secret-database-password=hunter2")


def _plain_explode(request):
    raise RuntimeError("secret-database-password=hunter2")


def _plain_busy(request):
    return HttpResponse("<h1>Busy</h1>", status=503, headers={"Retry-After": "7"})


urlpatterns = [
    path("api/v1/test/explode", _explode),
    path("api/v1/test/plain-explode", _plain_explode),
    path("api/v1/test/plain-busy", _plain_busy),
    *real_urlpatterns,
]
handler404 = "fitness.api.errors.handler404"
handler500 = "fitness.api.errors.handler500"


def test_unknown_api_route_is_404_envelope(api_client):
    assert_error(api_client.get("/api/v1/nope"), 404, "not_found")


def test_wrong_method_is_405_envelope(auth_client):
    assert_error(auth_client.delete("/api/v1/auth/me"), 405, "method_not_allowed")


def test_malformed_json_is_400_envelope(api_client):
    response = api_client.post(
        "/api/v1/auth/login", data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")


def test_unsupported_media_type_is_415_envelope(api_client):
    response = api_client.post("/api/v1/auth/login", data="email=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_oversized_json_body_is_413_envelope(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api_client.post(
        "/api/v1/auth/login", {"email": "a@b.co", "password": "x" * 200}, format="json"
    )
    assert_error(response, 413, "payload_too_large")


def test_validation_error_lists_fields(api_client):
    error = assert_error(
        api_client.post("/api/v1/auth/login", {}, format="json"), 400, "validation_error"
    )
    assert set(error["details"]["fields"]) == {"email", "password"}


def test_unexpected_error_is_500_without_detail_and_logged_with_request_id(
    api_client, settings, caplog
):
    settings.ROOT_URLCONF = __name__
    with caplog.at_level(logging.ERROR, logger="fitness.api"):
        response = api_client.get("/api/v1/test/explode", HTTP_X_REQUEST_ID="req-123")
    assert_error(response, 500, "internal_error")
    assert b"hunter2" not in response.content
    assert response["X-Request-ID"] == "req-123"
    record = next(r for r in caplog.records if r.name == "fitness.api")
    assert record.request_id == "req-123"


def test_request_id_is_echoed_or_generated(api_client):
    given = api_client.get("/healthz", HTTP_X_REQUEST_ID="abc-DEF_1.2")
    assert given["X-Request-ID"] == "abc-DEF_1.2"
    generated = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert len(generated["X-Request-ID"]) == 32


def test_the_request_log_line_carries_the_request_id(auth_client, caplog):
    with caplog.at_level(logging.INFO):
        auth_client.get("/api/v1/food/logs/not-a-uuid", HTTP_X_REQUEST_ID="trace-me")
    [record] = [r for r in caplog.records if r.name == "fitness.request"]
    assert record.request_id == "trace-me"
    # The request's own line replaces Django's, which would say the same again.
    assert not [r for r in caplog.records if r.name == "django.request"]


# --- DEBUG on (`make run`): Django's HTML debug pages never reach a client of /api/ or /ws/


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/nope", "/ws/events/", "/ws/nope/"])
def test_unknown_paths_under_api_and_ws_are_404_envelopes(api_client, settings, debug, path):
    settings.DEBUG = debug

    response = api_client.get(path, HTTP_ACCEPT="text/html")

    assert response["Content-Type"] == "application/json"
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("debug", [False, True])
def test_uncaught_error_outside_drf_is_500_envelope_with_debug_on(settings, caplog, debug):
    settings.DEBUG = debug
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.ERROR):
        response = client.get(
            "/api/v1/test/plain-explode", HTTP_ACCEPT="text/html", HTTP_X_REQUEST_ID="req-9"
        )

    assert response["Content-Type"] == "application/json"
    assert_error(response, 500, "internal_error")
    assert b"hunter2" not in response.content and b"Traceback" not in response.content
    assert response["X-Request-ID"] == "req-9"
    assert any(record.exc_info for record in caplog.records)  # the operator still sees it


def test_an_html_error_answer_under_api_becomes_the_envelope_keeping_status_and_headers(
    api_client, settings
):
    settings.ROOT_URLCONF = __name__

    response = api_client.get("/api/v1/test/plain-busy")

    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "7"


def test_pages_outside_api_keep_djangos_debug_page(api_client, settings):
    settings.DEBUG = True

    response = api_client.get("/no-such-page", HTTP_ACCEPT="text/html")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("/api/v1/workouts/", "/api/v1/workouts"),
        ("/api/v1/food/logs/", "/api/v1/food/logs"),
        ("/api/v1/auth/login/", "/api/v1/auth/login"),
    ],
)
def test_a_trailing_slash_answers_404_saying_the_path_has_none(
    auth_client, settings, debug, sent, meant
):
    settings.DEBUG = debug

    error = assert_error(auth_client.post(sent, {}, format="json"), 404, "not_found")

    assert error["message"] == f"No such endpoint: {meant} has no trailing slash."
    assert error["details"] == {"path": meant}


def test_a_path_that_exists_with_no_slash_either_is_a_plain_404(api_client):
    error = assert_error(api_client.get("/api/v1/nothing-here/"), 404, "not_found")

    assert error["message"] == "No such endpoint."
