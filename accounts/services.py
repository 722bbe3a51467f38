"""Every write to accounts: registration, sessions, password reset, profile and settings."""

import json
import logging
import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework.exceptions import ValidationError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from accounts import firebase, tokens
from accounts.models import (
    LoginAttemptWindow,
    MigrationSource,
    TokenFamily,
    User,
    normalize_email,
)
from accounts.tasks import send_password_reset_email
from analytics.events import ServerEvent
from analytics.services import track
from fitness.api import ratelimit
from fitness.api.errors import ApiError, RateLimited
from fitness.error_codes import ErrorCode

logger = logging.getLogger(__name__)

MAX_PREFERENCES_BYTES = 16_384


class InvalidCredentials(ApiError):
    code = ErrorCode.INVALID_CREDENTIALS
    message = "E-mail or password is incorrect."


class UserInactive(ApiError):
    code = ErrorCode.AUTHENTICATION_FAILED
    message = "This account is disabled."


class InvalidResetToken(ApiError):
    code = ErrorCode.INVALID_RESET_TOKEN
    message = "This reset link is invalid or has expired."


def _password_errors(password: str, user: User | None) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from exc


@transaction.atomic
def register_user(*, email: str, password: str, name: str, display_name: str = "") -> User:
    email = normalize_email(email)
    candidate = User(email=email, name=name, display_name=display_name or name)
    _password_errors(password, candidate)
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": ["An account with this e-mail already exists."]})
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:
        raise ValidationError({"email": ["An account with this e-mail already exists."]}) from exc
    track(candidate, ServerEvent.USER_SIGNED_UP, {"method": "password"})
    return candidate


@transaction.atomic
def _count_login_attempt(email: str) -> ratelimit.WindowState:
    """One more attempt in the e-mail's window, counted under a row lock in the database,
    so parallel guesses are all counted and a cache restart forgets none of them."""
    now = timezone.now()
    window = timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    counter, _ = LoginAttemptWindow.objects.select_for_update().get_or_create(
        email=email, defaults={"window_started_at": now}
    )
    if counter.window_started_at <= now - window:
        counter.window_started_at, counter.attempts = now, 0
    counter.attempts += 1
    counter.save(update_fields=["window_started_at", "attempts"])
    ends_in = (counter.window_started_at + window - now).total_seconds()
    return ratelimit.WindowState(
        count=counter.attempts,
        limit=settings.LOGIN_MAX_FAILURES,
        retry_after=max(1, math.ceil(ends_in)),
    )


def login(*, request: HttpRequest | None, email: str, password: str) -> User:
    """Checks credentials, with a per-e-mail lockout kept in the database.

    Once the limit is reached the account answers 429 until the window ends, even for the
    right password, so a guesser learns nothing from the lockout period.
    """
    email = normalize_email(email)
    # Every attempt is counted before the password is checked, so parallel guesses cannot
    # slip past the limit between a check and an increment.
    state = _count_login_attempt(email)
    if state.exceeded:
        raise RateLimited(
            state.retry_after,
            "Too many failed logins for this account. Try again later.",
            code=ErrorCode.TOO_MANY_ATTEMPTS,
        )
    # authenticate() hashes a dummy password for unknown e-mails, so both failures take as
    # long and answer the same body.
    user = authenticate(request, username=email, password=password)
    if user is None:
        raise InvalidCredentials()
    LoginAttemptWindow.objects.filter(email=email).delete()
    track(user, ServerEvent.USER_LOGGED_IN, {"method": "password"})
    return user


def login_with_firebase_token(*, claims: firebase.FirebaseIdToken) -> User:
    """The exchange of a Firebase ID token for our own session (a login; the same token
    used as a bearer token is not one)."""
    user = user_for_firebase_token(claims=claims)
    track(user, ServerEvent.USER_LOGGED_IN, {"method": "firebase"})
    return user


def user_for_firebase_token(*, claims: firebase.FirebaseIdToken) -> User:
    """The user a verified Firebase ID token stands for, created on the spot (lazy
    migration) when its uid was not imported yet. Disabled users are refused."""
    user = User.objects.filter(firebase_uid=claims["sub"]).first()
    if user is None:
        try:
            user = _create_firebase_user(claims)
        except IntegrityError:
            # A parallel first request of the same user created it.
            user = User.objects.filter(firebase_uid=claims["sub"]).first()
            if user is None:
                raise firebase.FirebaseTokenInvalid() from None
    if not user.is_active:
        raise UserInactive()
    if user.sessions_ended_at is not None and (
        claims["auth_time"] < user.sessions_ended_at.timestamp()
    ):
        # Signed in on Firebase before a new password here ended every session.
        raise firebase.FirebaseTokenInvalid("This session has ended; sign in again.")
    return user


@transaction.atomic
def _create_firebase_user(claims: firebase.FirebaseIdToken) -> User:
    uid = claims["sub"]
    if not claims.get("email"):
        raise firebase.FirebaseTokenInvalid("This Firebase account has no e-mail address.")
    email = normalize_email(claims["email"])
    verified = claims.get("email_verified") is True
    existing = User.objects.select_for_update().filter(email=email).first()
    if existing is not None:
        # Linking on the e-mail would hand the account to whoever controls a Firebase
        # user with that address, so only an address Firebase verified is linked, and
        # only to an account that belongs to no other Firebase user.
        if not verified or existing.firebase_uid is not None:
            raise firebase.FirebaseTokenInvalid(
                "An account with this e-mail exists; sign in with its password."
            )
        existing.firebase_uid = uid
        existing.email_verified = True
        existing.save(update_fields=["firebase_uid", "email_verified", "updated_at"])
        return existing
    name = str(claims.get("name") or "")[:150]
    user = User(
        id=firebase.firebase_user_id(uid),
        email=email,
        name=name,
        display_name=name,
        firebase_uid=uid,
        email_verified=verified,
        migration_source=MigrationSource.FIREBASE_LAZY,
        legacy={
            "firebase_claims": {
                key: claims[key]
                for key in ("picture", "phone_number", "firebase", "auth_time")
                if key in claims
            }
        },
    )
    user.set_unusable_password()
    with transaction.atomic():
        user.save(force_insert=True)
    track(user, ServerEvent.USER_SIGNED_UP, {"method": "firebase"})
    logger.info("User created from a Firebase ID token", extra={"user_id": str(user.pk)})
    return user


def refresh_session(*, raw_refresh_token: str) -> tuple[User, dict]:
    refresh = tokens.parse_refresh(raw_refresh_token)
    user, family = tokens.consume_refresh(refresh)
    return user, tokens.issue_pair(user, family=family)


def logout(*, user: User, raw_refresh_token: str, access_token: Token) -> None:
    """Ends the session: the refresh token, and every token of its login (its family)."""
    refresh = tokens.parse_refresh(raw_refresh_token)
    if str(refresh.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise tokens.TokenInvalid()
    tokens.consume_refresh(refresh)
    families = {refresh.get(tokens.FAMILY_CLAIM), access_token.get(tokens.FAMILY_CLAIM)}
    for family_id in families - {None}:
        tokens.revoke_family(family_id, reason=TokenFamily.Reason.LOGOUT)


def request_password_reset(*, email: str) -> None:
    """Queues the reset e-mail if the account exists; callers answer the same either way.

    Accounts without a usable password get it too: users imported from Firebase who signed
    in with a provider only, or whose hash Firebase did not export, set one this way.
    """
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None:
        return
    send_password_reset_email.delay_on_commit(str(user.pk))


@transaction.atomic
def confirm_password_reset(*, uid: str, token: str, new_password: str) -> User:
    try:
        user_id = force_str(urlsafe_base64_decode(uid))
        user = User.objects.select_for_update().get(pk=user_id, is_active=True)
    except (ValueError, TypeError, OverflowError, DjangoValidationError, User.DoesNotExist):
        raise InvalidResetToken() from None
    # The token is a hash over the password hash and last login, so setting the password
    # below spends it: it cannot be used twice.
    if not default_token_generator.check_token(user, token):
        raise InvalidResetToken()
    _password_errors(new_password, user)
    # A new password bumps the user's token version (User.save): every access and refresh
    # token issued before it is refused from the commit on.
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    tokens.revoke_all_refresh_tokens(user)
    return user


_PROFILE_FIELDS = frozenset(
    {
        "name",
        "display_name",
        "birthday",
        "gender",
        "height_cm",
        "weight_kg",
        "target_weight_kg",
        "fitness_goal",
    }
)
_SETTINGS_FIELDS = frozenset(
    {
        "theme_mode",
        "notifications_enabled",
        "measurement_system",
        "language",
        "timezone",
        "privacy_settings",
    }
)


def _apply(user: User, allowed: frozenset[str], changes: dict[str, Any]) -> User:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable here: {sorted(unknown)}")
    for field, value in changes.items():
        setattr(user, field, value)
    user.save(update_fields=[*changes, "updated_at"])
    return user


@transaction.atomic
def update_profile(*, user: User, changes: dict[str, Any]) -> User:
    if "display_name" in changes and not changes["display_name"]:
        changes["display_name"] = changes.get("name") or user.name
    return _apply(user, _PROFILE_FIELDS, changes)


@transaction.atomic
def update_settings(*, user: User, changes: dict[str, Any]) -> User:
    if "privacy_settings" in changes:
        changes["privacy_settings"] = {**user.privacy_settings, **changes["privacy_settings"]}
    return _apply(user, _SETTINGS_FIELDS, changes)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge recursively, null deletes a key."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@transaction.atomic
def merge_preferences(*, user: User, patch: dict[str, Any]) -> dict[str, Any]:
    # Lock the row: two devices merging different keys at once must both be kept.
    locked = User.objects.select_for_update().only("id", "preferences").get(pk=user.pk)
    merged = merge_patch(locked.preferences, patch)
    # Bounded as a whole, not per call: preferences travel with every profile response.
    if len(json.dumps(merged)) > MAX_PREFERENCES_BYTES:
        raise ValidationError({"non_field_errors": ["Preferences would grow too large."]})
    locked.preferences = merged
    locked.save(update_fields=["preferences", "updated_at"])
    user.preferences = locked.preferences
    return locked.preferences
