"""Revocation that the database decides: it survives a Redis flush, ends whole sessions, and
takes effect at once for access tokens."""

import logging
from datetime import timedelta

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import LoginAttemptWindow, TokenFamily, User
from accounts.tasks import flush_expired_tokens
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.redis_server import RedisServer, needs_redis_server, point_at

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"
NEW_PASSWORD = "A-very-strong-passphrase-42"


def _login(email: str, password: str = DEFAULT_PASSWORD):
    return APIClient().post(
        "/api/v1/auth/login", {"email": email, "password": password}, format="json"
    )


def _refresh(raw: str):
    return APIClient().post("/api/v1/auth/refresh", {"refresh_token": raw}, format="json")


def _me(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(ME).status_code


def _logout(pair: dict):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    return client.post(
        "/api/v1/auth/logout", {"refresh_token": pair["refresh_token"]}, format="json"
    )


def _jti(raw: str) -> str:
    return jwt.decode(raw, options={"verify_signature": False})["jti"]


@pytest.fixture
def own_redis(settings):
    server = RedisServer().start()
    point_at(settings, server)
    yield server
    server.stop()


# --- durable after a Redis flush ---------------------------------------------------------


@needs_redis_server
def test_logged_out_access_token_stays_refused_after_redis_flush(own_redis, user):
    pair = _login(user.email).json()
    assert _me(pair["access_token"]) == 200
    assert _logout(pair).status_code == 204
    assert _me(pair["access_token"]) == 401

    own_redis.flush()

    assert _me(pair["access_token"]) == 401
    assert _refresh(pair["refresh_token"]).status_code == 401
    other_session = _login(user.email).json()
    assert _me(other_session["access_token"]) == 200


@needs_redis_server
def test_login_lockout_stays_in_force_after_redis_flush(own_redis, user):
    for _ in range(5):
        assert _login(user.email, "wrong-password-x").status_code == 401
    assert _login(user.email).status_code == 429

    own_redis.flush()

    response = _login(user.email)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_attempts"
    assert int(response["Retry-After"]) > 0
    assert LoginAttemptWindow.objects.get(email=user.email).attempts == 7


def test_successful_login_clears_the_attempt_window(user):
    assert _login(user.email, "wrong-password-x").status_code == 401
    assert LoginAttemptWindow.objects.filter(email=user.email).exists()
    assert _login(user.email).status_code == 200
    assert not LoginAttemptWindow.objects.filter(email=user.email).exists()


# --- refresh-token reuse revokes the family ----------------------------------------------


def test_reused_refresh_token_revokes_every_token_of_its_login(user, caplog):
    login = _login(user.email).json()
    second = _refresh(login["refresh_token"])  # A → B
    assert second.status_code == 200
    b = second.json()
    third = _refresh(b["refresh_token"])  # B → C
    assert third.status_code == 200
    c = third.json()
    untouched = _login(user.email).json()  # another device, another family
    assert _me(c["access_token"]) == 200

    with caplog.at_level(logging.WARNING, logger="accounts.tokens"):
        reused = _refresh(login["refresh_token"])

    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_not_valid"
    for pair in (login, b, c):
        assert _me(pair["access_token"]) == 401
    assert _refresh(c["refresh_token"]).status_code == 401
    assert _me(untouched["access_token"]) == 200
    assert _refresh(untouched["refresh_token"]).status_code == 200

    family = TokenFamily.objects.get(revoked_at__isnull=False)
    assert family.user == user
    assert family.revoked_reason == TokenFamily.Reason.REUSE
    assert family.reused_jti == _jti(login["refresh_token"])
    warnings = [r for r in caplog.records if "reused" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].exc_info is None


def test_admin_shows_the_reuse_record_read_only(client, user):
    login = _login(user.email).json()
    assert _refresh(login["refresh_token"]).status_code == 200
    assert _refresh(login["refresh_token"]).status_code == 401
    family = TokenFamily.objects.get()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    listing = client.get("/admin/accounts/tokenfamily/", {"q": user.email})
    assert listing.status_code == 200
    assert b"rotated refresh token reused" in listing.content
    page = client.get(f"/admin/accounts/tokenfamily/{family.pk}/change/")
    assert page.status_code == 200
    assert b'name="revoked_reason"' not in page.content
    assert family.reused_jti.encode() in page.content
    assert client.post(f"/admin/accounts/tokenfamily/{family.pk}/delete/").status_code == 403
    assert TokenFamily.objects.filter(pk=family.pk).exists()


def test_refresh_after_logout_is_refused_without_a_theft_record(user):
    pair = _login(user.email).json()
    assert _logout(pair).status_code == 204
    assert _refresh(pair["refresh_token"]).status_code == 401
    assert TokenFamily.objects.get().revoked_reason == TokenFamily.Reason.LOGOUT


# --- every way a session ends takes effect at once ------------------------------------------


def test_logout_ends_earlier_access_tokens_of_the_same_login(user):
    login = _login(user.email).json()
    rotated = _refresh(login["refresh_token"]).json()
    other_device = _login(user.email).json()
    assert _me(login["access_token"]) == _me(rotated["access_token"]) == 200

    assert _logout(rotated).status_code == 204

    assert _me(login["access_token"]) == 401
    assert _me(rotated["access_token"]) == 401
    assert _me(other_device["access_token"]) == 200


def test_new_password_set_anywhere_ends_every_session_at_once(user):
    first, second = _login(user.email).json(), _login(user.email).json()
    assert _me(first["access_token"]) == _me(second["access_token"]) == 200  # record cached

    # What the admin's password form and `manage.py changepassword` do.
    user.set_password(NEW_PASSWORD)
    user.save()

    for pair in (first, second):
        assert _me(pair["access_token"]) == 401
        assert _refresh(pair["refresh_token"]).status_code == 401
    assert _me(_login(user.email, NEW_PASSWORD).json()["access_token"]) == 200


def test_password_reset_ends_access_tokens_at_once(user, django_capture_on_commit_callbacks):
    pair = _login(user.email).json()
    assert _me(pair["access_token"]) == 200
    with django_capture_on_commit_callbacks(execute=True):
        confirm = APIClient().post(
            "/api/v1/auth/reset-password/confirm",
            {
                "email": user.email,
                "code": services.issue_password_reset_code(user=user),
                "new_password": NEW_PASSWORD,
            },
            format="json",
        )
    assert confirm.status_code == 204
    assert _me(pair["access_token"]) == 401
    assert _refresh(pair["refresh_token"]).status_code == 401


def test_deactivation_ends_access_tokens_at_once(user):
    pair = _login(user.email).json()
    assert _me(pair["access_token"]) == 200

    user.is_active = False
    user.save()

    assert _me(pair["access_token"]) == 401
    assert _refresh(pair["refresh_token"]).status_code == 401


def test_password_hash_upgrade_at_login_keeps_sessions(user, settings):
    pair = _login(user.email).json()
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert _login(user.email).status_code == 200  # re-hashes the password with PBKDF2
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")
    assert _me(pair["access_token"]) == 200


def test_nightly_flush_drops_dead_sessions_and_ended_attempt_windows(user, settings):
    live = TokenFamily.objects.create(user=user)
    dead = TokenFamily.objects.create(
        user=user,
        last_rotated_at=timezone.now() - settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"],
    )
    LoginAttemptWindow.objects.create(email="now@example.com", window_started_at=timezone.now())
    LoginAttemptWindow.objects.create(
        email="old@example.com",
        window_started_at=timezone.now() - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1),
    )

    flush_expired_tokens()

    assert list(TokenFamily.objects.all()) == [live]
    assert not TokenFamily.objects.filter(pk=dead.pk).exists()
    assert list(LoginAttemptWindow.objects.values_list("email", flat=True)) == ["now@example.com"]


# --- API requests read no user row, and are refused exactly as before ----------------------

FOOD_LOGS = "/api/v1/food/logs"


def _list(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(FOOD_LOGS).status_code


def test_list_request_authenticates_without_reading_the_user_row(user):
    access = _login(user.email).json()["access_token"]
    assert _list(access) == 200  # the auth record is cached now

    with CaptureQueriesContext(connection) as queries:
        assert _list(access) == 200

    assert not [q["sql"] for q in queries if '"accounts_user"' in q["sql"]]


def test_user_of_a_token_loads_its_whole_row_once_when_a_view_needs_it(user):
    token_user = User.from_token(str(user.pk))

    with CaptureQueriesContext(connection) as queries:
        assert (token_user.email, token_user.timezone, token_user.name) == (
            user.email,
            user.timezone,
            user.name,
        )

    assert len(queries) == 1


def _log_out(user, pair):
    assert _logout(pair).status_code == 204


def _change_password(user, pair):
    user.set_password(NEW_PASSWORD)
    user.save()


def _deactivate(user, pair):
    user.is_active = False
    user.save(update_fields=["is_active"])


def _delete(user, pair):
    user.delete()


@pytest.mark.parametrize(
    "end_session",
    [_log_out, _change_password, _deactivate, _delete],
    ids=["logout", "password_change", "deactivation", "deletion"],
)
def test_session_end_refuses_the_access_token_at_once_without_a_user_row_read(user, end_session):
    pair = _login(user.email).json()
    assert _list(pair["access_token"]) == 200  # record cached: only its drop can refuse

    end_session(user, pair)

    assert _list(pair["access_token"]) == 401
