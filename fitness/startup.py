"""Checks every serving process makes before it takes work."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_real_secret_key() -> None:
    """Production never signs tokens, sessions or URLs with the public placeholder key."""
    if not settings.DEBUG and settings.SECRET_KEY_IS_WEAK:
        raise ImproperlyConfigured(
            "SECRET_KEY is missing or too weak. Set SECRET_KEY to a random string of at least "
            "50 characters (python -c 'import secrets; print(secrets.token_urlsafe(64))'), "
            "or set DEBUG=true for local development."
        )
