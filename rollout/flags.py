"""Who a request is (user, install, platform, app version) and whether a flag is on for them.

waffle keeps the flags and their cache; the percentage is bucketed here instead of by
waffle's cookie, which a mobile client does not keep. The bucket is a hash of the flag's
name and the caller's stable id (the user's id when signed in, else the `X-Install-Id` the
app generates once per install), so it never changes between requests, processes or
devices, and raising a flag's percentage only adds callers: whoever was in stays in.
"""

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from packaging.version import Version

from rollout.versions import Platform, parse_platform, parse_version

# Header values are echoed nowhere, but keep them plain and short all the same.
_INSTALL_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# Buckets of 0.01 %: finer than waffle's percent field (one decimal).
_BUCKETS = 10_000


@dataclass(frozen=True)
class Caller:
    user: Any  # a User or AnonymousUser
    install_id: str | None
    platform: Platform | None
    app_version: Version | None

    @classmethod
    def from_request(cls, request: Any) -> "Caller":
        headers = request.headers
        install_id = headers.get("X-Install-Id", "")
        return cls(
            user=getattr(request, "user", None),
            install_id=install_id if _INSTALL_ID.match(install_id) else None,
            platform=parse_platform(headers.get("X-Platform")),
            app_version=parse_version(headers.get("X-App-Version")),
        )

    @property
    def is_authenticated(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated)

    @property
    def bucketing_id(self) -> str | None:
        if self.is_authenticated:
            return f"user:{self.user.pk}"
        if self.install_id:
            return f"install:{self.install_id}"
        return None


def bucket(flag_name: str, bucketing_id: str) -> Decimal:
    """The caller's place in [0, 100) for this flag. Salted with the flag's name, so each
    flag's first 10 % is a different tenth of the users."""
    digest = hashlib.sha256(f"{flag_name}\x00{bucketing_id}".encode()).digest()
    return Decimal(int.from_bytes(digest[:8], "big") % _BUCKETS) / (_BUCKETS // 100)


def _in_scope(flag: Any, caller: Caller) -> bool:
    """Platform and version ranges narrow every other rule: a caller outside them (or that
    does not say its platform or version) never gets the flag."""
    platforms = {name.strip() for name in flag.platforms.split(",") if name.strip()}
    if platforms and caller.platform not in platforms:
        return False
    low, high = parse_version(flag.min_app_version), parse_version(flag.max_app_version)
    if (low or high) and caller.app_version is None:
        return False
    if low and caller.app_version < low:
        return False
    return not (high and caller.app_version > high)


def flag_is_on(flag: Any, caller: Caller) -> bool:
    if not flag.pk or not _in_scope(flag, caller):
        return False
    if flag.everyone is not None:
        return flag.everyone
    user = caller.user
    if caller.is_authenticated:
        if flag.authenticated or (flag.staff and user.is_staff):
            return True
        if flag.superusers and user.is_superuser:
            return True
        if user.pk in flag._get_user_ids():
            return True
        groups = flag._get_group_ids()
        if groups and groups & set(user.groups.values_list("pk", flat=True)):
            return True
    if flag.percent and caller.bucketing_id is not None:
        return bucket(flag.name, caller.bucketing_id) < flag.percent
    return False
