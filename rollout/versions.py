"""App versions and platforms as the app sends them (`X-App-Version`, `X-Platform`)."""

from django.db import models
from packaging.version import InvalidVersion, Version

# What an app below its minimum may still call (besides /healthz and /readyz, which are not
# under /api/): where it learns the minimum, and the refresh that keeps its session.
GATE_EXEMPT_PATHS = frozenset({"/api/v1/config", "/api/v1/auth/refresh"})


class Platform(models.TextChoices):
    IOS = "ios"
    ANDROID = "android"


def parse_version(text: str | None) -> Version | None:
    """PEP 440 ordering (2.10.0 after 2.9.3; 2.4.0b1 before 2.4.0); None when unreadable."""
    if not text or len(text) > 32:
        return None
    try:
        return Version(text.strip())
    except InvalidVersion:
        return None


def parse_platform(text: str | None) -> Platform | None:
    try:
        return Platform((text or "").strip().lower())
    except ValueError:
        return None
