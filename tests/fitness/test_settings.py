import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update(DJANGO_SETTINGS_MODULE="fitness.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _start(env_overrides: dict[str, str], entry_point: str) -> subprocess.CompletedProcess:
    return _run(f"import {entry_point}", env_overrides)


SERVING_ENTRY_POINTS = ["fitness.asgi", "fitness.wsgi"]


@pytest.mark.parametrize("entry_point", SERVING_ENTRY_POINTS)
def test_production_refuses_to_start_without_secret_key(entry_point):
    result = _start({}, entry_point)
    assert result.returncode != 0
    assert "SECRET_KEY is missing or too weak" in result.stderr


@pytest.mark.parametrize("entry_point", SERVING_ENTRY_POINTS)
def test_production_refuses_the_development_secret_key(entry_point):
    result = _start({"SECRET_KEY": "django-insecure-local-development-only"}, entry_point)
    assert result.returncode != 0
    assert "SECRET_KEY is missing or too weak" in result.stderr


@pytest.mark.parametrize("entry_point", SERVING_ENTRY_POINTS)
def test_production_starts_with_a_real_secret_key(entry_point):
    result = _start({"SECRET_KEY": "k" * 64}, entry_point)
    assert result.returncode == 0, result.stderr


def test_debug_starts_with_no_configuration():
    result = _start({"DEBUG": "true"}, "fitness.asgi")
    assert result.returncode == 0, result.stderr


def test_celery_worker_refuses_to_start_without_secret_key():
    code = "from fitness.celery import _refuse_weak_secret; _refuse_weak_secret()"
    result = _run(f"import django; django.setup(); {code}", {})
    assert result.returncode != 0
    assert "Refusing to start: SECRET_KEY is missing" in result.stderr


def test_offline_management_commands_need_no_secret_key():
    code = (
        "from django.core.management import call_command; import django; django.setup(); "
        "call_command('makemigrations', '--check', '--dry-run')"
    )
    result = _run(code, {})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("proxies", "trusted"), [("0", "None"), ("1", "('HTTP_X_FORWARDED_PROTO', 'https')")]
)
def test_forwarded_proto_is_trusted_only_behind_declared_proxies(proxies, trusted):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECURE_PROXY_SSL_HEADER, settings.REST_FRAMEWORK['NUM_PROXIES'])"
    )
    result = _run(code, {"DEBUG": "true", "NUM_PROXIES": proxies})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{trusted} {proxies}"


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("futurefitness://reset?email={email}", "must contain {code}"),
        ("futurefitness://reset?u={user}&c={code}", "may only name {email} and {code}"),
    ],
)
def test_settings_refuse_a_reset_link_the_e_mail_could_not_fill(link, message):
    result = _run("import django; django.setup()", {"DEBUG": "true", "PASSWORD_RESET_LINK": link})
    assert result.returncode != 0
    assert message in result.stderr


def test_settings_accept_a_universal_reset_link():
    link = "https://futurefitness.app/reset?email={email}&code={code}"
    result = _run("import django; django.setup()", {"DEBUG": "true", "PASSWORD_RESET_LINK": link})
    assert result.returncode == 0, result.stderr
