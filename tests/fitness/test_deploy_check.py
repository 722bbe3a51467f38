"""The production settings `.env.example` recommends pass Django's deployment checklist."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def env_example() -> dict[str, str]:
    """The variables `.env.example` sets; an empty value there means "leave unset"."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        if value:
            values[name.strip()] = value
    return values


@pytest.mark.parametrize("left_out", [None, "SECURE_SSL_REDIRECT"], ids=["as-written", "default"])
def test_env_example_production_settings_pass_check_deploy(left_out):
    recommended = env_example()
    assert recommended["DEBUG"] == "false"
    recommended.pop(left_out, None)
    env = {
        # Only what the file says, plus the one secret it leaves to the secret store.
        "PATH": os.environ.get("PATH", ""),
        **recommended,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_SETTINGS_MODULE": "fitness.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_plain_http_is_redirected_to_https_except_the_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # the default whenever DEBUG is off
    # Behind a load balancer (NUM_PROXIES > 0), which is what sets X-Forwarded-Proto.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    redirected = client.get("/api/v1/auth/me")
    behind_tls = client.get("/api/v1/auth/me", HTTP_X_FORWARDED_PROTO="https")
    probe = client.get("/healthz")

    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/api/v1/auth/me"
    assert behind_tls.status_code == 401
    assert probe.status_code == 200
