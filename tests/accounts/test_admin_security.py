"""The admin login: lockout and per-IP limits (django-axes, in the database), TOTP two-factor
(django-otp) when ADMIN_REQUIRE_2FA is on, and its path from ADMIN_URL."""

import importlib
import os
import subprocess
import sys
from base64 import b32decode
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import clear_url_caches, reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.scrape import scrape, value

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


def _login_url() -> str:
    return reverse("admin:login")


def _admin_login(client: Client, email: str, password: str, ip: str = "198.51.100.1", **extra):
    data = {"username": email, "password": password, "next": reverse("admin:index")}
    data.update(extra.pop("data", {}))
    return client.post(_login_url(), data, REMOTE_ADDR=ip, **extra)


def _reaches_index(client: Client) -> bool:
    response = client.get(reverse("admin:index"))
    return response.status_code == 200 and b'id="site-name"' in response.content


def _clear_cache() -> None:
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")  # only this run's keys on a shared Redis
    else:
        cache.clear()


def _token(device: TOTPDevice, key: bytes | None = None) -> str:
    totp = TOTP(key or device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


# --- lockout ----------------------------------------------------------------------------


def test_35_wrong_passwords_lock_the_account_and_the_right_one_is_refused(client, staff):
    statuses = [_admin_login(client, staff.email, WRONG).status_code for _ in range(35)]
    # The first failures get the form back; from the limit on, the lockout page.
    limit = settings.LOGIN_MAX_FAILURES
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert set(statuses[limit - 1 :]) == {429}

    response = _admin_login(client, staff.email, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert b"Too many failed logins" in response.content
    assert response["Retry-After"] == str(settings.LOGIN_LOCKOUT_SECONDS)
    assert not _reaches_index(client)


def test_admin_login_failures_and_the_lockout_are_counted_in_the_metrics(client, staff):
    limit = settings.LOGIN_MAX_FAILURES
    before = scrape(client)

    for _ in range(limit + 2):
        _admin_login(client, staff.email, WRONG)
    after = scrape(client)

    failures = {"surface": "admin", "reason": "invalid_credentials"}
    assert (
        value(after, "login_failures_total", **failures)
        - value(before, "login_failures_total", **failures)
        >= limit
    )
    assert value(after, "login_lockouts_total", surface="admin") > value(
        before, "login_lockouts_total", surface="admin"
    )
    assert value(after, "login_failures_total", surface="api") == value(
        before, "login_failures_total", surface="api"
    )


def test_lockout_counts_e_mail_case_variants_as_one_account(client, staff):
    for i in range(settings.LOGIN_MAX_FAILURES):
        variant = staff.email.upper() if i % 2 else staff.email.title()
        _admin_login(client, variant, WRONG, ip=f"198.51.100.{10 + i}")
    assert (
        _admin_login(client, staff.email, DEFAULT_PASSWORD, ip="198.51.100.99").status_code == 429
    )


def test_lockout_is_in_the_database_and_survives_a_cache_clear(client, staff):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        _admin_login(client, staff.email, WRONG)
    assert AccessAttempt.objects.filter(username=staff.email).exists()

    _clear_cache()

    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 429
    assert not _reaches_index(client)


def test_a_locked_account_is_refused_from_another_ip_too(client, staff):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        _admin_login(client, staff.email, WRONG, ip="198.51.100.1")
    response = _admin_login(Client(), staff.email, DEFAULT_PASSWORD, ip="203.0.113.7")
    assert response.status_code == 429


def test_one_ip_guessing_across_accounts_is_locked_but_other_ips_are_not(client):
    for i in range(settings.LOGIN_MAX_FAILURES):
        _admin_login(client, f"guess{i}@example.com", WRONG, ip="198.51.100.66")
    fresh = UserFactory(is_staff=True)

    assert (
        _admin_login(client, fresh.email, DEFAULT_PASSWORD, ip="198.51.100.66").status_code == 429
    )
    elsewhere = Client()
    response = _admin_login(elsewhere, fresh.email, DEFAULT_PASSWORD, ip="198.51.100.67")
    assert response.status_code == 302
    assert _reaches_index(elsewhere)


def test_the_client_ip_behind_a_proxy_follows_num_proxies(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"
    for i in range(settings.LOGIN_MAX_FAILURES):
        _admin_login(
            client, f"guess{i}@example.com", WRONG, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.5"
        )
    fresh = UserFactory(is_staff=True)
    locked = _admin_login(
        client, fresh.email, DEFAULT_PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.5"
    )
    other_client = _admin_login(
        Client(), fresh.email, DEFAULT_PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.6"
    )
    assert (locked.status_code, other_client.status_code) == (429, 302)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_a_forwarded_header_that_is_no_address_counts_against_the_peer(client, settings, staff):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    response = _admin_login(
        client, staff.email, WRONG, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="'; drop table --"
    )
    assert response.status_code == 200
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["10.0.0.2"]


def test_a_successful_login_clears_the_failures(client, staff):
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        _admin_login(client, staff.email, WRONG)
    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 302
    client.logout()
    _admin_login(client, staff.email, WRONG)
    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 302


def test_the_api_login_keeps_its_own_lockout(client, staff):
    api = APIClient()
    for _ in range(settings.LOGIN_MAX_FAILURES):
        api.post("/api/v1/auth/login", {"email": staff.email, "password": WRONG}, format="json")
    # The API's failures are the API's: the admin records none and still lets staff in.
    assert not AccessAttempt.objects.exists()
    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 302

    other = UserFactory()
    for _ in range(35):
        _admin_login(Client(), other.email, WRONG)
    response = APIClient().post(
        "/api/v1/auth/login", {"email": other.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(other.id)


# --- two-factor ---------------------------------------------------------------------------


@pytest.fixture
def require_2fa(settings):
    settings.ADMIN_REQUIRE_2FA = True


@pytest.fixture
def device(staff):
    return TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)


def test_2fa_refuses_a_staff_user_without_a_device(client, staff, require_2fa):
    response = _admin_login(client, staff.email, DEFAULT_PASSWORD, data={"otp_token": "123456"})
    assert response.status_code == 200
    assert not _reaches_index(client)

    response = _admin_login(client, staff.email, DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert b"Please enter your OTP token" in response.content
    assert not _reaches_index(client)


def test_2fa_refuses_a_password_only_session(client, staff, device, require_2fa):
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(_login_url())


def test_2fa_admits_the_right_totp_code(client, staff, device, require_2fa):
    response = _admin_login(
        client, staff.email, DEFAULT_PASSWORD, data={"otp_token": _token(device)}
    )
    assert response.status_code == 302
    assert _reaches_index(client)


def test_2fa_refuses_a_wrong_totp_code(client, staff, device, require_2fa):
    wrong = f"{(int(_token(device)) + 500_000) % 1_000_000:06d}"
    response = _admin_login(client, staff.email, DEFAULT_PASSWORD, data={"otp_token": wrong})
    assert response.status_code == 200
    assert b"Invalid token" in response.content
    assert not _reaches_index(client)


def test_2fa_refuses_a_code_used_once_already(client, staff, device, require_2fa):
    token = _token(device)
    assert (
        _admin_login(client, staff.email, DEFAULT_PASSWORD, data={"otp_token": token}).status_code
        == 302
    )
    replay = Client()
    response = _admin_login(replay, staff.email, DEFAULT_PASSWORD, data={"otp_token": token})
    assert response.status_code == 200
    assert not _reaches_index(replay)


def test_2fa_off_needs_only_the_password(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False
    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 302
    assert _reaches_index(client)


def test_the_enrol_command_prints_a_uri_whose_key_logs_in(client, staff, require_2fa):
    out = StringIO()
    call_command("add_totp_device", staff.email.upper(), stdout=out)
    uri, key_line = out.getvalue().splitlines()
    assert uri.startswith("otpauth://totp/Future%20Fitness%3A")
    assert uri.endswith("&issuer=Future%20Fitness")
    device = TOTPDevice.objects.get(user=staff)
    key = b32decode(key_line.removeprefix("key: "))
    assert key == device.bin_key

    response = _admin_login(
        client, staff.email, DEFAULT_PASSWORD, data={"otp_token": _token(device, key)}
    )
    assert response.status_code == 302
    assert _reaches_index(client)


def test_the_enrol_command_refuses_non_staff_and_replaces_on_request(staff):
    with pytest.raises(CommandError):
        call_command("add_totp_device", UserFactory().email, stdout=StringIO())
    call_command("add_totp_device", staff.email, stdout=StringIO())
    call_command("add_totp_device", staff.email, "--replace", stdout=StringIO())
    assert TOTPDevice.objects.filter(user=staff).count() == 1


# --- ADMIN_URL -----------------------------------------------------------------------------


def _reload_urls() -> None:
    importlib.reload(importlib.import_module(settings.ROOT_URLCONF))
    clear_url_caches()


@contextmanager
def _admin_at(path: str):
    try:
        with override_settings(ADMIN_URL=path):
            _reload_urls()
            yield
    finally:
        _reload_urls()


def _settings_from_env(**env: str) -> list[str]:
    """ADMIN_URL and ADMIN_REQUIRE_2FA as fitness.settings reads them from this environment."""
    environ = {
        k: v for k, v in os.environ.items() if k not in {"ADMIN_URL", "ADMIN_REQUIRE_2FA", "DEBUG"}
    }
    code = "from fitness import settings as s; print(s.ADMIN_URL, s.ADMIN_REQUIRE_2FA)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**environ, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_the_defaults_are_admin_at_admin_with_2fa_unless_debug():
    assert _settings_from_env() == ["admin/", "True"]
    assert _settings_from_env(DEBUG="true") == ["admin/", "False"]
    assert _settings_from_env(DEBUG="true", ADMIN_REQUIRE_2FA="true") == ["admin/", "True"]
    assert _settings_from_env(ADMIN_URL="/staff-door/") == ["staff-door/", "True"]


def test_the_admin_is_at_admin_in_the_tests(client):
    assert client.get("/admin/login/").status_code == 200


def test_admin_url_moves_the_admin_and_its_lockout(client, staff):
    with _admin_at("staff-door-9f3c/"):
        assert _login_url() == "/staff-door-9f3c/login/"
        assert client.get("/staff-door-9f3c/login/").status_code == 200
        assert client.get("/admin/login/").status_code == 404
        for _ in range(settings.LOGIN_MAX_FAILURES):
            _admin_login(client, staff.email, WRONG)
        assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 429
    assert client.get("/admin/login/").status_code == 200


def test_the_lock_ends_once_the_window_passes_without_attempts(client, staff, settings):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        _admin_login(client, staff.email, WRONG)
    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 429
    window = timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1)
    AccessAttempt.objects.update(attempt_time=timezone.now() - window)
    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 302


def test_the_enrol_command_draws_the_uri_as_a_qr_code(staff):
    out = StringIO()
    call_command("add_totp_device", staff.email, "--qr", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("otpauth://totp/")
    assert len(lines) > 10 and "█" in lines[5]


def test_a_superuser_sees_a_devices_qr_code_in_the_admin(client, staff, device):
    client.force_login(staff)
    response = client.get(reverse("admin:otp_totp_totpdevice_qrcode", args=[device.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
