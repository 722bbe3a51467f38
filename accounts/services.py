"""Every write to accounts: registration, sessions, password reset, profile and settings."""

import json
import logging
import math
import secrets
import tempfile
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework.exceptions import ValidationError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import Token

from accounts import data_export, firebase, tokens
from accounts.models import (
    DataExport,
    DeletedAccount,
    LoginAttemptWindow,
    MigrationSource,
    PasswordResetCode,
    TokenFamily,
    User,
    normalize_email,
)
from analytics.events import ServerEvent
from analytics.services import track
from fitness.api import ratelimit, throttling
from fitness.api.errors import ApiError, RateLimited
from fitness.error_codes import ErrorCode
from fitness.observability.metrics import LOGIN_FAILURES, LOGIN_LOCKOUTS
from fitness.transactions import robust_on_commit
from social import services as social_services
from storage import services as storage_services

logger = logging.getLogger(__name__)

MAX_PREFERENCES_BYTES = 16_384


class InvalidCredentials(ApiError):
    code = ErrorCode.INVALID_CREDENTIALS
    message = "E-mail or password is incorrect."


class UserInactive(ApiError):
    code = ErrorCode.AUTHENTICATION_FAILED
    message = "This account is disabled."


class ReauthenticationRequired(ApiError):
    code = ErrorCode.REAUTHENTICATION_REQUIRED
    message = "Confirm it is you first."


class InvalidResetCode(ApiError):
    code = ErrorCode.INVALID_RESET_CODE
    message = "This reset code is wrong, has expired or was tried too often; ask for a new one."


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
        LOGIN_FAILURES.labels(surface="api", reason="locked_out").inc()
        raise RateLimited(
            state.retry_after,
            "Too many failed logins for this account. Try again later.",
            code=ErrorCode.TOO_MANY_ATTEMPTS,
        )
    # authenticate() hashes a dummy password for unknown e-mails, so both failures take as
    # long and answer the same body.
    user = authenticate(request, username=email, password=password)
    if user is None:
        LOGIN_FAILURES.labels(surface="api", reason="invalid_credentials").inc()
        if state.count == state.limit:
            LOGIN_LOCKOUTS.labels(surface="api").inc()
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
    migration) when its uid was not imported yet. Disabled users are refused, and so are
    accounts deleted here: a Firebase session outlives the deletion."""
    user = User.objects.filter(firebase_uid=claims["sub"]).first()
    if (
        user is None
        and DeletedAccount.objects.filter(pk=firebase.firebase_user_id(claims["sub"])).exists()
    ):
        raise firebase.FirebaseTokenInvalid("This account was deleted.")
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
    from accounts.tasks import send_password_reset_email  # the task calls this module

    email = normalize_email(email)
    throttling.check_email_rate("password_reset", email)
    user = User.objects.filter(email=email, is_active=True).first()
    if user is None:
        return
    send_password_reset_email.delay_on_commit(str(user.pk))


def _reset_code_hash(user: User, code: str) -> str:
    # Keyed with SECRET_KEY: a million codes are quickly hashed, so a plain hash in a
    # leaked table would give every live code away.
    return salted_hmac("accounts.reset-code", f"{user.pk}:{code}", algorithm="sha256").hexdigest()


@transaction.atomic
def issue_password_reset_code(*, user: User) -> str:
    """A new six-digit code for `user`, replacing any earlier one; only its hash is kept."""
    code = f"{secrets.randbelow(10**6):06d}"
    PasswordResetCode.objects.update_or_create(
        user=user,
        defaults={
            "code_hash": _reset_code_hash(user, code),
            "expires_at": timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT),
            "attempts": 0,
        },
    )
    return code


def send_password_reset_code(*, user_id: str) -> None:
    """Issues a code and e-mails it with the app link that fills it in."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    code = issue_password_reset_code(user=user)
    link = settings.PASSWORD_RESET_LINK.format(
        email=quote(user.email, safe=""), code=quote(code, safe="")
    )
    context = {
        "user": user,
        "code": code,
        "link": link,
        "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    send_mail(
        subject=f"{code} is your Future Fitness reset code",
        message=render_to_string("accounts/password_reset_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )


def send_account_deleted_notice(*, email: str, name: str) -> None:
    send_mail(
        subject="Your Future Fitness account was deleted",
        message=render_to_string("accounts/account_deleted_email.txt", {"name": name}),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[email],
    )


def confirm_password_reset(*, email: str, code: str, new_password: str) -> User:
    """Sets a new password with the e-mailed code. A wrong code counts a try (committed
    even though the request fails); the code is dead once it has expired, been used or
    been tried PASSWORD_RESET_MAX_ATTEMPTS times. Unknown e-mails answer the same error."""
    user = _reset_with_code(email=normalize_email(email), code=code, new_password=new_password)
    if user is None:
        raise InvalidResetCode()
    return user


@transaction.atomic
def _reset_with_code(*, email: str, code: str, new_password: str) -> User | None:
    user = User.objects.select_for_update().filter(email=email, is_active=True).first()
    if user is None:
        return None
    # Locked: parallel guesses are all counted against the same few tries.
    reset = PasswordResetCode.objects.select_for_update().filter(user=user).first()
    if (
        reset is None
        or reset.expires_at <= timezone.now()
        or reset.attempts >= settings.PASSWORD_RESET_MAX_ATTEMPTS
    ):
        return None
    if not constant_time_compare(reset.code_hash, _reset_code_hash(user, code)):
        PasswordResetCode.objects.filter(pk=reset.pk).update(attempts=F("attempts") + 1)
        return None
    # Checked only once the code is right, and before anything is written: a weak password
    # spends neither the code nor a try.
    _password_errors(new_password, user)
    # A new password bumps the user's token version (User.save): every access and refresh
    # token issued before it is refused from the commit on.
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    reset.delete()
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


# --- account deletion ------------------------------------------------------------------

# How recent a sign-in must be to delete an account that has no password to confirm.
RECENT_SIGN_IN = timedelta(minutes=5)


def delete_account(*, user: User, password: str | None, token: Any) -> None:
    """Deletes the account and everything it owns (App Store and Play rules; GDPR's
    erasure), once the caller proves it is them: the password, or for an account without
    one a sign-in within RECENT_SIGN_IN. Wrong passwords count towards the login lockout,
    so a stolen access token cannot be used to guess one."""
    if user.has_usable_password():
        if not password:
            raise ValidationError({"password": ["Your password is needed to delete the account."]})
        state = _count_login_attempt(user.email)
        if state.exceeded:
            raise RateLimited(
                state.retry_after,
                "Too many failed attempts for this account. Try again later.",
                code=ErrorCode.TOO_MANY_ATTEMPTS,
            )
        if not user.check_password(password):
            raise ReauthenticationRequired(
                "The password is incorrect.", details={"reason": "password"}
            )
    elif not _signed_in_recently(token):
        raise ReauthenticationRequired(
            "Sign in again, then delete the account within "
            f"{int(RECENT_SIGN_IN.total_seconds() // 60)} minutes.",
            details={
                "reason": "recent_sign_in",
                "max_age_seconds": int(RECENT_SIGN_IN.total_seconds()),
            },
        )
    erase_account(user=user)


def _signed_in_recently(token: Any) -> bool:
    """Whether the session behind `token` began with a sign-in (login, Firebase exchange)
    within RECENT_SIGN_IN. The session's start, not the token's own issue time: a refresh
    issues fresh access tokens without the user being there."""
    since = timezone.now() - RECENT_SIGN_IN
    if isinstance(token, firebase.FirebaseIdToken):
        return token.get("auth_time", 0) >= since.timestamp()
    family_id = token.get(tokens.FAMILY_CLAIM) if token is not None else None
    return (
        family_id is not None
        and TokenFamily.objects.filter(pk=family_id, created_at__gte=since).exists()
    )


@transaction.atomic
def erase_account(*, user: User) -> None:
    """Deletes the account and everything it owns, without asking: the API's deletion
    once the caller proved it is them, and staff deleting a user in the admin."""
    from accounts.tasks import send_account_deleted_email  # the task module imports this one

    user = User.objects.select_for_update().get(pk=user.pk)
    # Through the apps' own services where more than the rows must happen: groups change
    # hands and boards are refreshed; blobs leave storage after commit.
    social_services.leave_all_groups(user=user)
    storage_services.delete_all_files(owner=user)
    _erase_traces(user)
    DeletedAccount.objects.update_or_create(pk=user.pk)
    tokens.invalidate_auth_state(user.pk)
    email, name = user.email, user.display_name or user.name
    # The rest goes with the row (foreign keys cascade): food logs, workouts with their
    # exercises and photos, conversations, recognition jobs, connections, blocks, shares,
    # participations, achievements, sessions (token families), id maps, TOTP devices.
    user.delete()
    logger.info("Account deleted", extra={"user_id": str(user.pk)})
    # Robust: the account is gone whatever becomes of the e-mail (its task retries).
    robust_on_commit(send_account_deleted_email.delay, email, name)


def _erase_traces(user: User) -> None:
    """What names the user without a cascading foreign key: refresh tokens (SimpleJWT
    keeps them with the user set to null), the login lockout and the admin login's
    records (by e-mail), admin history about the account, and staff sessions."""
    OutstandingToken.objects.filter(user=user).delete()
    LoginAttemptWindow.objects.filter(email=user.email).delete()
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        model.objects.filter(username__iexact=user.email).delete()
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    ).delete()
    if user.is_staff:
        # Only staff sign in to the admin; sessions are opaque until decoded.
        for session in Session.objects.all().iterator():
            if session.get_decoded().get("_auth_user_id") == str(user.pk):
                session.delete()


# --- data export -----------------------------------------------------------------------


def request_data_export(*, user: User) -> tuple[DataExport, bool]:
    """Starts an export (a Celery job after commit), or returns the one still under way:
    asking twice does not build two. (export, created)."""
    from accounts.tasks import build_data_export  # the task module imports this one

    with transaction.atomic():
        # The user's row is the per-user lock: two requests at once start one export.
        User.objects.select_for_update().only("pk").get(pk=user.pk)
        unfinished = DataExport.objects.filter(
            owner=user, status__in=[DataExport.Status.PENDING, DataExport.Status.RUNNING]
        )
        stale = timezone.now() - timedelta(seconds=settings.DATA_EXPORT_STALE_SECONDS)
        unfinished.filter(created_at__lt=stale).update(
            status=DataExport.Status.FAILED,
            error="The export did not finish; ask for a new one.",
            finished_at=timezone.now(),
        )
        active = unfinished.first()
        if active is not None:
            return active, False
        throttling.check_user_rate("data_export", user.pk)
        export = DataExport.objects.create(owner=user)
        build_data_export.delay_on_commit(str(export.pk))
    return export, True


def build_data_export(*, export_id: str) -> None:
    """Writes the zip and records it. Idempotent: a finished export is left alone, and a
    run redelivered after a lost worker builds it again from the start. The zip is built
    in a temporary file (in memory up to 32 MB), never inside a transaction."""
    export = DataExport.objects.select_related("owner").filter(pk=export_id).first()
    if export is None or export.status in (DataExport.Status.READY, DataExport.Status.FAILED):
        return
    DataExport.objects.filter(pk=export.pk).update(
        status=DataExport.Status.RUNNING, started_at=timezone.now()
    )
    try:
        with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as archive:
            data_export.write_zip(export.owner, archive)
            stored = storage_services.store_data_export(
                owner=export.owner,
                archive=File(archive),
                expiry=timezone.now() + timedelta(days=settings.DATA_EXPORT_TTL_DAYS),
            )
    except Exception:
        # Recorded rather than raised: the client polls the status and asks again.
        logger.exception("Data export failed", extra={"export_id": str(export.pk)})
        DataExport.objects.filter(pk=export.pk).update(
            status=DataExport.Status.FAILED,
            error="The export could not be written; ask for a new one.",
            finished_at=timezone.now(),
        )
        return
    updated = DataExport.objects.filter(pk=export.pk).update(
        status=DataExport.Status.READY, file=stored, finished_at=timezone.now()
    )
    if not updated:
        # The export (with its account) was deleted while the zip was written.
        stored.delete()
