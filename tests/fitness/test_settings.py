import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _start(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update(DJANGO_SETTINGS_MODULE="fitness.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key():
    result = _start({})
    assert result.returncode != 0
    assert "SECRET_KEY is missing or too weak" in result.stderr


def test_production_refuses_the_development_secret_key():
    result = _start({"SECRET_KEY": "django-insecure-local-development-only"})
    assert result.returncode != 0


def test_production_starts_with_a_real_secret_key():
    result = _start({"SECRET_KEY": "k" * 64})
    assert result.returncode == 0, result.stderr


def test_debug_starts_with_no_configuration():
    result = _start({"DEBUG": "true"})
    assert result.returncode == 0, result.stderr
