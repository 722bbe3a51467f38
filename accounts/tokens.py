"""JWT issuing, rotation and revocation on top of SimpleJWT's outstanding/blacklist tables."""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from accounts.models import User
from fitness.api.errors import ApiError
from fitness.error_codes import ErrorCode


class TokenInvalid(ApiError):
    code = ErrorCode.TOKEN_NOT_VALID
    message = "The refresh token is invalid, expired or already used."


def _denylist_key(jti: str) -> str:
    return f"jwt:denied:{jti}"


def issue_pair(user: User) -> dict:
    refresh = RefreshToken.for_user(user)
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
    }


def parse_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise TokenInvalid() from exc


@transaction.atomic
def consume_refresh(refresh: RefreshToken) -> User:
    """Blacklists a refresh token exactly once; the loser of a parallel race gets 401.

    The row lock serialises parallel refreshes of one token, and the blacklist's one-to-one
    key would still stop a second winner if the lock were ever bypassed.
    """
    jti = refresh[jwt_settings.JTI_CLAIM]
    outstanding = OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=jti).first()
    if outstanding is None or outstanding.user_id is None:
        raise TokenInvalid()
    try:
        with transaction.atomic():
            _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    except IntegrityError as exc:
        raise TokenInvalid() from exc
    if not created:
        raise TokenInvalid()
    user = User.objects.filter(pk=outstanding.user_id, is_active=True).first()
    if user is None:
        raise TokenInvalid()
    return user


def revoke_access_token(token: Token) -> None:
    ttl = int(token["exp"] - time.time())
    if ttl > 0:
        cache.set(_denylist_key(token["jti"]), 1, timeout=ttl)


def is_access_token_revoked(token: Token) -> bool:
    return isinstance(token, AccessToken) and cache.get(_denylist_key(token["jti"])) is not None


def revoke_all_refresh_tokens(user: User) -> int:
    pending = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in pending], ignore_conflicts=True
    )
    return len(revoked)
