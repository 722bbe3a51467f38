"""JWT issuing, rotation and revocation.

The database decides, the cache only speeds it up:
- refresh tokens: SimpleJWT's outstanding/blacklist tables (spent once, under a row lock);
- sessions: every token carries its login's family (`fam`) and the user's `token_version`
  (`ver`); a family is revoked by logout or by the reuse of a rotated refresh token, the
  version is bumped by a new password;
- access tokens are checked against one small record per user ("active, version, families
  revoked lately"), read from the cache and rebuilt from the database on a miss, so a
  revocation survives a cache flush or restart.

A cache that cannot be read refuses the request (503, see fitness.api.errors): it never lets
a token through unchecked.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from accounts.models import TokenFamily, User
from fitness.api.errors import BACKEND_OUTAGES, ApiError, log_outage
from fitness.error_codes import ErrorCode

logger = logging.getLogger(__name__)

FAMILY_CLAIM = "fam"
VERSION_CLAIM = "ver"


class TokenInvalid(ApiError):
    code = ErrorCode.TOKEN_NOT_VALID
    message = "The refresh token is invalid, expired or already used."


@dataclass(frozen=True)
class AuthState:
    """What decides whether a user's access token still holds, without the user row."""

    active: bool
    token_version: int
    revoked_families: frozenset[str]

    def accepts(self, token: Token) -> bool:
        return (
            self.active
            and token.get(VERSION_CLAIM) == self.token_version
            and token.get(FAMILY_CLAIM) is not None
            and token[FAMILY_CLAIM] not in self.revoked_families
        )


def _state_key(user_id: Any) -> str:
    return f"auth:state:{user_id}"


def _load_state(user_id: Any) -> dict[str, Any]:
    row = User.objects.filter(pk=user_id).values("is_active", "token_version").first()
    if row is None:
        return {"active": False, "ver": -1, "fams": []}
    # An access token outlives its family's revocation by at most its own lifetime.
    since = timezone.now() - settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    families = TokenFamily.objects.filter(user_id=user_id, revoked_at__gte=since)
    return {
        "active": row["is_active"],
        "ver": row["token_version"],
        "fams": [str(pk) for pk in families.values_list("pk", flat=True)],
    }


def auth_state(user_id: Any) -> AuthState:
    key = _state_key(user_id)
    payload = cache.get(key)
    if payload is None:
        payload = _load_state(user_id)
        # add(), not set(): never overwrite what a writer has just invalidated and another
        # reader has already refilled from the newer state.
        cache.add(key, payload, timeout=settings.AUTH_STATE_CACHE_SECONDS)
    return _state(payload)


def _warm_auth_state(user_id: Any) -> None:
    """Fills the record when tokens are issued, so the request that follows a login or a
    refresh finds it cached. Best effort: issuing tokens needs only the database."""
    try:
        if cache.get(_state_key(user_id)) is None:
            cache.add(_state_key(user_id), _load_state(user_id), settings.AUTH_STATE_CACHE_SECONDS)
    except BACKEND_OUTAGES as exc:
        log_outage(exc, "warming the auth record")


def _state(payload: dict[str, Any]) -> AuthState:
    return AuthState(
        active=payload["active"],
        token_version=payload["ver"],
        revoked_families=frozenset(payload["fams"]),
    )


def invalidate_auth_state(user_id: Any) -> None:
    """Drops the user's cached record; call it inside the transaction that changes it.

    Dropped now, so a cache that cannot be reached aborts the change (the request answers
    503 and nothing is half done); and again after the commit, because a request reading
    between the two may have cached the record as it was.
    """
    key = _state_key(user_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def issue_pair(user: User, *, family: TokenFamily | None = None) -> dict:
    """A new access + refresh pair, in `family` (a rotation) or a new one (a login)."""
    family = family or TokenFamily.objects.create(user=user)
    refresh = RefreshToken.for_user(user)
    refresh[FAMILY_CLAIM] = str(family.pk)
    refresh[VERSION_CLAIM] = user.token_version
    _warm_auth_state(user.pk)
    # The access token copies the refresh token's claims, family and version included.
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
    }


class _PresentedRefreshToken(RefreshToken):
    """Signature, expiry and type are checked when parsed; whether it was already spent is
    decided in _spend, under the row lock, where a second use is recognised as reuse."""

    def check_blacklist(self) -> None:
        return None


def parse_refresh(raw: str) -> RefreshToken:
    try:
        return _PresentedRefreshToken(raw)
    except TokenError as exc:
        raise TokenInvalid() from exc


class _Reused(Exception):
    """The refresh token was already spent: someone holds a copy of it."""


@transaction.atomic
def _spend(refresh: RefreshToken) -> tuple[User, TokenFamily | None]:
    """Blacklists a refresh token exactly once; the loser of a parallel race gets 401.

    The row lock serialises parallel refreshes of one token, and the blacklist's one-to-one
    key would still stop a second winner if the lock were ever bypassed. Tokens that ended
    with their session (logout, new password, deactivation) answer 401 before the reuse
    check, so only a copy of a live session's token counts as theft.
    """
    jti = refresh[jwt_settings.JTI_CLAIM]
    outstanding = OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=jti).first()
    if outstanding is None or outstanding.user_id is None:
        raise TokenInvalid()
    family = None
    if refresh.get(FAMILY_CLAIM):
        family = TokenFamily.objects.filter(
            pk=refresh[FAMILY_CLAIM], user_id=outstanding.user_id
        ).first()
        if family is None or family.revoked_at is not None:
            raise TokenInvalid()
    user = User.objects.filter(pk=outstanding.user_id, is_active=True).first()
    if user is None:
        raise TokenInvalid()
    # Tokens issued before versions existed carry none; the blacklist still spends them.
    if VERSION_CLAIM in refresh and refresh[VERSION_CLAIM] != user.token_version:
        raise TokenInvalid()
    try:
        with transaction.atomic():
            _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    except IntegrityError as exc:
        raise TokenInvalid() from exc
    if not created:
        raise _Reused()
    if family is not None:
        family.last_rotated_at = timezone.now()
        family.save(update_fields=["last_rotated_at"])
    return user, family


def consume_refresh(refresh: RefreshToken) -> tuple[User, TokenFamily | None]:
    """Spends a refresh token. A second use of a spent one revokes its whole family."""
    try:
        return _spend(refresh)
    except _Reused:
        jti = refresh[jwt_settings.JTI_CLAIM]
        family_id = refresh.get(FAMILY_CLAIM)
        logger.warning(
            "Rotated refresh token reused: revoking its family",
            extra={"user_id": str(refresh.get(jwt_settings.USER_ID_CLAIM)), "family": family_id},
        )
        if family_id:
            revoke_family(family_id, reason=TokenFamily.Reason.REUSE, reused_jti=jti)
        raise TokenInvalid() from None


@transaction.atomic
def revoke_family(family_id: str, *, reason: str, reused_jti: str = "") -> None:
    """Ends every token of one login, refresh and access alike (the first reason stays)."""
    family = TokenFamily.objects.select_for_update().filter(pk=family_id).first()
    if family is None:
        return
    if family.revoked_at is None:
        family.revoked_at = timezone.now()
        family.revoked_reason = reason
        family.reused_jti = reused_jti
        family.save(update_fields=["revoked_at", "revoked_reason", "reused_jti"])
    invalidate_auth_state(family.user_id)


def revoke_access_token(token: Token) -> None:
    """Ends the session the access token belongs to (its family), durably."""
    family_id = token.get(FAMILY_CLAIM)
    if family_id:
        revoke_family(family_id, reason=TokenFamily.Reason.LOGOUT)


def is_access_token_revoked(token: Token) -> bool:
    if not isinstance(token, AccessToken):
        return False
    return not auth_state(token[jwt_settings.USER_ID_CLAIM]).accepts(token)


def revoke_all_refresh_tokens(user: User) -> int:
    pending = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in pending], ignore_conflicts=True
    )
    return len(revoked)
