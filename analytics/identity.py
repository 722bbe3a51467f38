"""The pseudonymous id events carry instead of the user."""

from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac


def actor_id(user_id: Any) -> str:
    """A keyed hash of the user id: stable for one user (so retention can follow them),
    meaningless without ANALYTICS_PSEUDONYM_KEY, and never the e-mail."""
    return salted_hmac(
        "analytics.actor",
        str(user_id),
        secret=settings.ANALYTICS_PSEUDONYM_KEY,
        algorithm="sha256",
    ).hexdigest()


def allows_analytics(user: Any) -> bool:
    """`privacy_settings.analytics` is on unless the user turned it off."""
    return (getattr(user, "privacy_settings", None) or {}).get("analytics", True) is not False
