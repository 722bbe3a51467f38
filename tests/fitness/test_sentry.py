"""Sentry, configured with a DSN pointing at a local receiver of Sentry's envelope endpoint:
an unhandled error arrives with release and environment, and nothing personal."""

import gzip
import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from django.urls import path
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny

from fitness.observability.sentry import init_sentry
from fitness.urls import urlpatterns as real_urlpatterns
from tests.http_threads import serve

PASSWORD = "hunter2-very-secret"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.secret-token-body.signature"


@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def _explode(request):
    raise RuntimeError("the database caught fire")


urlpatterns = [path("api/v1/test/explode", _explode), *real_urlpatterns]


class EnvelopeReceiver:
    """Sentry's ingest endpoint (`POST /api/<project>/envelope/`), keeping each item."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.raw: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.raw.append(body)
                lines = body.split(b"\n")
                # Envelope header, then (item header, item payload) pairs.
                for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                    if json.loads(header).get("type") == "event":
                        receiver.items.append(json.loads(payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve(self.server)

    def events(self, condition=lambda event: True, *, timeout: float = 10) -> list[dict]:
        """The events that match, once one has arrived: the SDK sends from a thread of its
        own, so `flush()` may return before the receiver has the envelope."""
        deadline = time.monotonic() + timeout
        while not (found := [event for event in self.items if condition(event)]):
            assert time.monotonic() < deadline, "no such event reached the receiver"
            time.sleep(0.05)
        return found

    @property
    def dsn(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://publickey@{host}:{port}/1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sentry():
    receiver = EnvelopeReceiver()
    assert init_sentry(
        dsn=receiver.dsn, environment="staging", release="fitness@1.2.3", traces_sample_rate=0.0
    )
    yield receiver
    sentry_sdk.flush(timeout=5)
    sentry_sdk.init()  # no DSN: the SDK sends nothing more
    receiver.stop()


def test_sentry_stays_off_without_a_dsn():
    assert init_sentry(dsn="", environment="x", release="", traces_sample_rate=0.0) is False


@pytest.mark.django_db
def test_an_unhandled_error_reaches_sentry_without_secrets(api_client, settings, sentry):
    settings.ROOT_URLCONF = __name__

    response = api_client.post(
        "/api/v1/test/explode",
        {"email": "someone@example.com", "password": PASSWORD, "refresh_token": TOKEN},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        HTTP_COOKIE=f"sessionid={TOKEN}",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    sentry_sdk.flush(timeout=5)

    assert response.status_code == 500
    event = sentry.events()[0]
    assert event["release"] == "fitness@1.2.3"
    assert event["environment"] == "staging"
    assert "the database caught fire" in json.dumps(event)
    sent = b"".join(sentry.raw).decode()
    for secret in (PASSWORD, TOKEN, "someone@example.com", "203.0.113.9"):
        assert secret not in sent
    assert "data" not in event.get("request", {}) or not event["request"]["data"]


def test_credentials_in_an_error_line_are_scrubbed(sentry):
    logging.getLogger("tests.sentry").error(
        "Could not refresh", extra={"refresh_token": TOKEN, "detail": {"password": PASSWORD}}
    )
    sentry_sdk.flush(timeout=5)

    [event] = sentry.events(lambda event: event.get("logger") == "tests.sentry")
    assert event["environment"] == "staging"
    sent = b"".join(sentry.raw).decode()
    assert TOKEN not in sent
    assert PASSWORD not in sent
