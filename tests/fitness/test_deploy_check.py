"""The production settings `.env.example` recommends pass Django's deployment checklist."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

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


def test_env_example_production_settings_pass_check_deploy():
    recommended = env_example()
    assert recommended["DEBUG"] == "false"
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
