"""The anonymous endpoints' limits with their default rates: generous per client IP (a
carrier's NAT puts many phones behind one address), tight per device and per e-mail."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import User
from tests.asserts import assert_error
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

STRONG = "A-very-strong-passphrase-42"


def _register(client: APIClient, n: int, device: str | None):
    headers = {"HTTP_X_DEVICE_ID": device} if device else {}
    return client.post(
        "/api/v1/auth/register",
        {"email": f"phone{n}@example.com", "password": STRONG, "name": "Phone"},
        format="json",
        **headers,
    )


def test_register_many_devices_behind_one_address_all_pass():
    client = APIClient()  # every request comes from the same IP
    for n in range(30):
        assert _register(client, n, device=f"install-{n}").status_code == 201
    assert User.objects.count() == 30


def test_register_is_limited_per_device():
    client = APIClient()
    for n in range(5):
        assert _register(client, n, device="one-phone").status_code == 201
    response = _register(client, 5, device="one-phone")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(email="phone5@example.com").exists()
    assert _register(client, 6, device="another-phone").status_code == 201


def test_login_is_limited_per_device_not_per_address(user):
    client = APIClient()
    body = {"email": user.email, "password": DEFAULT_PASSWORD}

    def login(device: str):
        return client.post("/api/v1/auth/login", body, format="json", HTTP_X_DEVICE_ID=device)

    for _ in range(20):
        assert login("d1").status_code == 200
    assert_error(login("d1"), 429, "rate_limited")
    assert login("d2").status_code == 200


def test_reset_emails_are_limited_per_address(user, django_capture_on_commit_callbacks):
    client = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            # A new device each time: the address's own limit is what holds.
            response = client.post(
                "/api/v1/auth/reset-password",
                {"email": user.email.upper()},
                format="json",
                HTTP_X_DEVICE_ID=f"d{n}",
            )
            assert response.status_code == 202
        flooded = client.post("/api/v1/auth/reset-password", {"email": user.email}, format="json")
    assert_error(flooded, 429, "rate_limited")
    assert len(mail.outbox) == 5
    # Other addresses from the same client are not held back.
    other = client.post("/api/v1/auth/reset-password", {"email": "x@example.com"}, format="json")
    assert other.status_code == 202


def test_reset_limit_per_address_answers_alike_with_and_without_an_account(user):
    client = APIClient()
    answers = {}
    for email in (user.email, "nobody@example.com"):
        for n in range(5):
            client.post(
                "/api/v1/auth/reset-password",
                {"email": email},
                format="json",
                HTTP_X_DEVICE_ID=f"{email}-{n}",
            )
        answers[email] = client.post("/api/v1/auth/reset-password", {"email": email}, format="json")
    known, unknown = answers.values()
    assert known.status_code == unknown.status_code == 429
    assert known.json()["error"]["code"] == unknown.json()["error"]["code"]
