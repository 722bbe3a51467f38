import re
import threading
import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import PasswordResetCode, User
from tests.asserts import assert_error
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

needs_concurrent_db = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite serialises writers; CI runs this on PostgreSQL"
)

STRONG = "A-very-strong-passphrase-42"


def _login(client: APIClient, email: str, password: str = DEFAULT_PASSWORD):
    return client.post("/api/v1/auth/login", {"email": email, "password": password}, format="json")


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_register_returns_auth_response(api_client):
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "New.User@Example.com", "password": STRONG, "name": "New User"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 15 * 60
    assert body["user"]["email"] == "new.user@example.com"
    assert body["user"]["display_name"] == "New User"
    assert User.objects.get(email="new.user@example.com").check_password(STRONG)


def test_register_rejects_duplicate_email_case_insensitively(api_client, user):
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": user.email.upper(), "password": STRONG, "name": "Twin"},
        format="json",
    )
    error = assert_error(response, 400, "validation_error")
    assert "email" in error["details"]["fields"]
    assert User.objects.count() == 1


def test_register_rejects_weak_password_and_stores_nothing(api_client):
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "weak@example.com", "password": "123", "name": "Weak"},
        format="json",
    )
    assert "password" in assert_error(response, 400, "validation_error")["details"]["fields"]
    assert not User.objects.filter(email="weak@example.com").exists()


def test_register_is_throttled_per_ip(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"register": "2/hour", "password_reset": "5/hour"},
    }
    for n in range(2):
        ok = api_client.post(
            "/api/v1/auth/register",
            {"email": f"t{n}@example.com", "password": STRONG, "name": "T"},
            format="json",
        )
        assert ok.status_code == 201
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "t3@example.com", "password": STRONG, "name": "T"},
        format="json",
    )
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(email="t3@example.com").exists()


def test_login_returns_tokens_for_right_password(api_client, user):
    response = _login(api_client, user.email.upper())
    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(user.id)


def test_login_failures_look_the_same_for_unknown_email_and_wrong_password(api_client, user):
    wrong_password = _login(api_client, user.email, "nope-nope-nope")
    unknown_email = _login(api_client, "ghost@example.com", "nope-nope-nope")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert_error(wrong_password, 401, "invalid_credentials")


def test_login_locks_out_after_five_failures_even_with_right_password(user):
    first, second = APIClient(), APIClient()
    for n in range(5):
        client = first if n % 2 else second
        assert _login(client, user.email, "wrong-password-x").status_code == 401
    response = _login(APIClient(), user.email)
    assert_error(response, 429, "too_many_attempts")
    assert 0 < int(response["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS


@needs_concurrent_db
def test_login_lockout_counts_atomically_under_parallel_clients(user, transactional_db):
    statuses: list[int] = []

    def attempt():
        statuses.append(_login(APIClient(), user.email, "wrong-password-x").status_code)
        connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # However the requests interleave, no more than five passwords are ever checked.
    assert statuses.count(401) == 5
    assert statuses.count(429) == 7
    assert _login(APIClient(), user.email).status_code == 429


def test_login_lockout_ends_with_the_window(api_client, user, settings):
    settings.LOGIN_LOCKOUT_SECONDS = 1
    for _ in range(5):
        _login(api_client, user.email, "wrong-password-x")
    assert _login(api_client, user.email).status_code == 429
    time.sleep(1.1)
    assert _login(api_client, user.email).status_code == 200


def test_login_rejects_inactive_user_like_a_wrong_password(api_client):
    inactive = UserFactory(is_active=False)
    response = _login(api_client, inactive.email)
    assert_error(response, 401, "invalid_credentials")


def test_me_answers_the_user_response_as_the_profile_does(auth_client, user):
    response = auth_client.get("/api/v1/auth/me")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"profile", "settings", "stats", "preferences"}
    assert body == auth_client.get("/api/v1/users/profile").json()
    assert body["profile"]["id"] == str(user.id)
    for field in ("email", "name", "display_name", "birthday", "gender", "height", "weight"):
        assert field in body["profile"]


def test_register_answers_201_with_location_of_the_profile(api_client):
    payload = {"email": "new@example.com", "password": STRONG, "name": "New"}

    response = api_client.post("/api/v1/auth/register", payload, format="json")

    assert response.status_code == 201
    assert response["Location"] == "http://testserver/api/v1/users/profile"


def test_me_without_token_is_401_envelope(api_client):
    response = api_client.get("/api/v1/auth/me")
    assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize("kind", ["expired", "tampered", "alg_none", "refresh_as_access"])
def test_me_rejects_bad_tokens(user, kind):
    if kind == "expired":
        token = AccessToken.for_user(user)
        token.set_exp(lifetime=-timedelta(seconds=1))
        raw = str(token)
    elif kind == "tampered":
        raw = str(AccessToken.for_user(user))
        head, payload, sig = raw.split(".")
        raw = f"{head}.{payload}.{sig[::-1]}"
    elif kind == "alg_none":
        claims = dict(AccessToken.for_user(user).payload)
        raw = jwt.encode(claims, key=None, algorithm="none")
    else:
        raw = str(RefreshToken.for_user(user))
    response = _bearer(raw).get("/api/v1/auth/me")
    assert_error(response, 401, "token_not_valid")


def test_refresh_rotates_and_refuses_the_old_token(api_client, user):
    tokens = _login(api_client, user.email).json()
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.status_code == 200
    fresh = response.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["user"]["id"] == str(user.id)
    assert _bearer(fresh["access_token"]).get("/api/v1/auth/me").status_code == 200

    reused = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert_error(reused, 401, "token_not_valid")


def test_refresh_rejects_access_token_and_garbage(api_client, user):
    for raw in (str(AccessToken.for_user(user)), "not-a-token"):
        response = api_client.post("/api/v1/auth/refresh", {"refresh_token": raw}, format="json")
        assert response.status_code == 401


def test_refresh_missing_field_is_validation_error(api_client):
    response = api_client.post("/api/v1/auth/refresh", {}, format="json")
    assert "refresh_token" in assert_error(response, 400, "validation_error")["details"]["fields"]


@needs_concurrent_db
def test_parallel_refreshes_of_one_token_have_one_winner(user, transactional_db):
    raw = str(RefreshToken.for_user(user))
    results: list[int] = []

    def refresh():
        response = APIClient().post("/api/v1/auth/refresh", {"refresh_token": raw}, format="json")
        results.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200] + [401] * 5


def test_logout_revokes_refresh_and_access_tokens(api_client, user):
    tokens = _login(api_client, user.email).json()
    client = _bearer(tokens["access_token"])
    response = client.post(
        "/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401
    refresh = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert refresh.status_code == 401


def test_logout_refuses_someone_elses_refresh_token(api_client, user, other_user):
    mine = _login(api_client, user.email).json()
    theirs = _login(api_client, other_user.email).json()
    response = _bearer(mine["access_token"]).post(
        "/api/v1/auth/logout", {"refresh_token": theirs["refresh_token"]}, format="json"
    )
    assert response.status_code == 401
    still_valid = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": theirs["refresh_token"]}, format="json"
    )
    assert still_valid.status_code == 200


def test_logout_requires_bearer(api_client, user):
    tokens = _login(api_client, user.email).json()
    response = api_client.post(
        "/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.status_code == 401


def _reset_code(message) -> str:
    return re.search(r"^\s*(\d{6})\s*$", message.body, re.MULTILINE).group(1)


def _request_reset(client, email, capture):
    with capture(execute=True):
        return client.post("/api/v1/auth/reset-password", {"email": email}, format="json")


def _confirm(client, email, code, password=STRONG):
    return client.post(
        "/api/v1/auth/reset-password/confirm",
        {"email": email, "code": code, "new_password": password},
        format="json",
    )


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_reset_password_flow_changes_password_and_revokes_sessions(
    api_client, user, django_capture_on_commit_callbacks
):
    old = _login(api_client, user.email).json()
    response = _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    code = _reset_code(mail.outbox[0])
    assert code in mail.outbox[0].subject

    confirm = _confirm(api_client, user.email.upper(), code)
    assert confirm.status_code == 204
    assert _login(api_client, user.email, STRONG).status_code == 200
    revoked = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": old["refresh_token"]}, format="json"
    )
    assert revoked.status_code == 401

    reused = _confirm(api_client, user.email, code, "Another-strong-pass-99")
    assert_error(reused, 400, "invalid_reset_code")
    assert _login(api_client, user.email, STRONG).status_code == 200
    assert not PasswordResetCode.objects.exists()


def test_reset_email_carries_a_six_digit_code_and_the_app_link(
    api_client, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_LINK = "https://app.example/reset?e={email}&c={code}"
    UserFactory(email="a+b@example.com")
    _request_reset(api_client, "a+b@example.com", django_capture_on_commit_callbacks)
    body = mail.outbox[0].body
    code = _reset_code(mail.outbox[0])
    assert f"https://app.example/reset?e=a%2Bb%40example.com&c={code}" in body
    # Short strings only: no long uid/token pair any more.
    assert not re.search(r"[A-Za-z0-9_-]{20,}", body.replace("example.com", ""))


def test_reset_code_stored_only_as_a_hash(api_client, user, django_capture_on_commit_callbacks):
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    code = _reset_code(mail.outbox[0])
    stored = PasswordResetCode.objects.get(user=user)
    assert code not in stored.code_hash


def test_reset_code_expires_after_fifteen_minutes(
    api_client, user, django_capture_on_commit_callbacks
):
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    code = _reset_code(mail.outbox[0])
    stored = PasswordResetCode.objects.get(user=user)
    assert stored.expires_at - stored.created_at == pytest.approx(
        timedelta(minutes=15), abs=timedelta(seconds=5)
    )
    PasswordResetCode.objects.filter(pk=stored.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_error(_confirm(api_client, user.email, code), 400, "invalid_reset_code")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_code_dies_after_five_wrong_tries(
    api_client, user, django_capture_on_commit_callbacks
):
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    code = _reset_code(mail.outbox[0])
    for _ in range(5):
        assert_error(_confirm(api_client, user.email, _wrong(code)), 400, "invalid_reset_code")
    assert PasswordResetCode.objects.get(user=user).attempts == 5
    # The right code no longer helps: the user asks for a new one.
    assert_error(_confirm(api_client, user.email, code), 400, "invalid_reset_code")
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_code_still_works_after_four_wrong_tries(
    api_client, user, django_capture_on_commit_callbacks
):
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    code = _reset_code(mail.outbox[0])
    for _ in range(4):
        _confirm(api_client, user.email, _wrong(code))
    assert _confirm(api_client, user.email, code).status_code == 204


def test_reset_wrong_code_changes_nothing_but_the_count(
    api_client, user, django_capture_on_commit_callbacks
):
    pair = _login(api_client, user.email).json()
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    code = _reset_code(mail.outbox[0])
    user.refresh_from_db()
    before = (user.password, user.token_version, user.updated_at)

    assert_error(_confirm(api_client, user.email, _wrong(code)), 400, "invalid_reset_code")

    user.refresh_from_db()
    assert (user.password, user.token_version, user.updated_at) == before
    assert _bearer(pair["access_token"]).get("/api/v1/auth/me").status_code == 200
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == 200


def test_reset_new_request_replaces_the_old_code(
    api_client, user, django_capture_on_commit_callbacks
):
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    first = _reset_code(mail.outbox[0])
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    second = _reset_code(mail.outbox[1])
    if first != second:
        assert_error(_confirm(api_client, user.email, first), 400, "invalid_reset_code")
    assert _confirm(api_client, user.email, second).status_code == 204


def test_reset_password_does_not_reveal_whether_account_exists(
    api_client, user, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    known = _request_reset(api_client, user.email, capture)
    unknown = _request_reset(api_client, "nobody@example.com", capture)
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1
    wrong_known = _confirm(api_client, user.email, _wrong(_reset_code(mail.outbox[0])))
    wrong_unknown = _confirm(api_client, "nobody@example.com", "123456")
    assert wrong_known.json() == wrong_unknown.json()


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "", "12 456"])
def test_reset_confirm_rejects_malformed_codes_without_counting_a_try(
    api_client, user, code, django_capture_on_commit_callbacks
):
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    response = _confirm(api_client, user.email, code)
    assert "code" in assert_error(response, 400, "validation_error")["details"]["fields"]
    assert PasswordResetCode.objects.get(user=user).attempts == 0
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_confirm_rejects_weak_new_password_and_keeps_the_code(
    api_client, user, django_capture_on_commit_callbacks
):
    _request_reset(api_client, user.email, django_capture_on_commit_callbacks)
    code = _reset_code(mail.outbox[0])
    response = _confirm(api_client, user.email, code, "password")
    assert "password" in assert_error(response, 400, "validation_error")["details"]["fields"]
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert PasswordResetCode.objects.get(user=user).attempts == 0
    assert _confirm(api_client, user.email, code).status_code == 204


def test_reset_password_is_throttled_per_ip(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"register": "10/hour", "password_reset": "1/hour"},
    }
    body = {"email": "someone@example.com"}
    assert api_client.post("/api/v1/auth/reset-password", body, format="json").status_code == 202
    response = api_client.post("/api/v1/auth/reset-password", body, format="json")
    assert response.status_code == 429
    assert "Retry-After" in response


def test_access_token_lives_at_most_fifteen_minutes(api_client, user):
    tokens = _login(api_client, user.email).json()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 15 * 60
    assert claims["token_type"] == "access"
