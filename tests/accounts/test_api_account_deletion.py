"""DELETE /api/v1/users/me: the account and everything it owns, once the caller proves it
is them; nothing of the user is left in any table or in storage."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts import firebase, services, tokens
from accounts.models import DataExport, DeletedAccount, LoginAttemptWindow, TokenFamily, User
from ai_assistant.models import AIConversation, AIUsage, ChatMessage, RecognitionJob
from food.models import FoodLog
from migration.models import IdMap
from social.models import (
    Achievement,
    Block,
    Challenge,
    ChallengeParticipant,
    Group,
    GroupMembership,
    LeaderboardEntry,
    Role,
)
from storage.models import StoredFile
from tests.asserts import assert_error
from tests.factories import DEFAULT_PASSWORD, UserFactory, connect
from tests.food.factories import FoodLogFactory, FoodLogShareFactory
from tests.social.conftest import add, make_group
from tests.storage.factories import stored_file
from tests.workouts.factories import create_workout

pytestmark = pytest.mark.django_db

URL = "/api/v1/users/me"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _signed_in(user) -> APIClient:
    return _bearer(tokens.issue_pair(user)["access_token"])


def _delete(client: APIClient, password: str | None = DEFAULT_PASSWORD, capture=None):
    body = {} if password is None else {"password": password}
    if capture is None:
        return client.delete(URL, body, format="json")
    with capture(execute=True):
        return client.delete(URL, body, format="json")


def _everything(user, friend, stranger) -> dict:
    """The user with something in every table that can hold a user's data."""
    photo = stored_file(user)
    log = FoodLogFactory(owner=user, image=photo)
    FoodLogShareFactory(food_log=log, user=friend)
    friends_log = FoodLogFactory(owner=friend)
    FoodLogShareFactory(food_log=friends_log, user=user)  # shared *with* the user
    workout_photo = stored_file(user)
    create_workout(user, shared_with=[str(friend.pk)], progress_photo_ids=[str(workout_photo.pk)])
    conversation = AIConversation.objects.create(owner=user, context={"goal": "run"})
    ChatMessage.objects.create(conversation=conversation, role="user", content="Hi coach")
    RecognitionJob.objects.create(owner=user, image=stored_file(user))
    AIUsage.objects.create(
        user=user, endpoint="chat", provider="gemini", model="m", latency_ms=5, outcome="ok"
    )
    Block.objects.create(blocker=user, blocked=stranger)
    # A group of the user's own with no one else in it, and one of the friend's.
    make_group(user)
    theirs = make_group(friend)
    add(theirs, user)
    now = timezone.now()
    challenge = Challenge.objects.create(
        group=theirs,
        created_by=user,
        name="Ten workouts",
        type="workout_count",
        goals={"target": 10},
        start_date=now - timedelta(days=1),
        end_date=now + timedelta(days=6),
    )
    ChallengeParticipant.objects.create(challenge=challenge, user=user)
    LeaderboardEntry.objects.create(challenge=challenge, user=user, rank=1, score=3)
    Achievement.objects.create(user=user, code="challenge_completed:x", earned_at=now)
    pair = tokens.issue_pair(user)
    DataExport.objects.create(owner=user)
    services.issue_password_reset_code(user=user)
    LoginAttemptWindow.objects.create(email=user.email, window_started_at=now, attempts=1)
    IdMap.objects.create(source_table="food_logs", old_id="old-1", new_id=log.pk, owner=user)
    IdMap.objects.create(source_table="auth_users", old_id="old-u", new_id=user.pk, owner=user)
    TOTPDevice.objects.create(user=user, name="phone")
    AccessAttempt.objects.create(
        username=user.email,
        ip_address="127.0.0.1",
        user_agent="test",
        http_accept="*/*",
        path_info="/admin/login/",
        get_data="",
        post_data="",
        failures_since_start=1,
    )
    staff = UserFactory(is_staff=True)
    LogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user.pk),
        object_repr=user.email,
        action_flag=CHANGE,
    )
    return {"pair": pair, "blob_keys": _blob_keys(user), "friends_log": friends_log}


def _blob_keys(user) -> set[str]:
    keys: set[str] = set()
    for stored in StoredFile.objects.filter(owner=user):
        keys |= set(stored.blob_keys)
    return keys


def _traces(user_id: uuid.UUID, email: str) -> list[str]:
    """Every row of every table (soft-deleted ones too) that mentions the user."""
    needles = (str(user_id), user_id.hex, email)
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model is DeletedAccount:
            continue
        for row in model._base_manager.values():
            text = repr(row)
            if any(needle in text for needle in needles):
                found.append(f"{model._meta.label}: {text[:200]}")
    return found


def test_delete_leaves_nothing_of_the_user_in_any_table_or_in_storage(
    user, django_capture_on_commit_callbacks, settings
):
    friend, stranger = UserFactory(), UserFactory()
    connect(user, friend)
    world = _everything(user, friend, stranger)
    user_id, email = user.pk, user.email
    assert world["blob_keys"] and all(
        Path(settings.MEDIA_ROOT, k).exists() for k in world["blob_keys"]
    )
    assert _traces(user_id, email)  # the scan does see the user before

    response = _delete(_signed_in(user), capture=django_capture_on_commit_callbacks)

    assert response.status_code == 204
    assert _traces(user_id, email) == []
    assert not any(Path(settings.MEDIA_ROOT, key).exists() for key in world["blob_keys"])
    assert list(DeletedAccount.objects.values_list("pk", flat=True)) == [user_id]
    # What belongs to others stays: the friend's log (only its share with the user went),
    # the friend's group, the anonymised AI usage row (a cost record, no one's data).
    assert FoodLog.objects.filter(pk=world["friends_log"].pk).exists()
    assert Group.objects.filter(memberships__user=friend).exists()
    assert AIUsage.objects.filter(user__isnull=True).count() == 1
    assert User.objects.filter(pk__in=[friend.pk, stranger.pk]).count() == 2


def test_delete_sends_a_confirmation_email(user, django_capture_on_commit_callbacks):
    email = user.email
    _delete(_signed_in(user), capture=django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [[email]]
    assert "deleted" in mail.outbox[0].subject


def test_delete_ends_every_session_at_once(user, django_capture_on_commit_callbacks):
    pair = tokens.issue_pair(user)
    other_device = _bearer(pair["access_token"])
    assert other_device.get("/api/v1/auth/me").status_code == 200
    _delete(_signed_in(user), capture=django_capture_on_commit_callbacks)
    assert other_device.get("/api/v1/auth/me").status_code == 401
    refresh = APIClient().post(
        "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
    )
    assert refresh.status_code == 401


def test_delete_with_wrong_password_changes_nothing(user, settings):
    friend = UserFactory()
    connect(user, friend)
    world = _everything(user, friend, UserFactory())
    before = _traces(user.pk, user.email)

    response = _delete(_signed_in(user), password="not-my-password")

    error = assert_error(response, 403, "reauthentication_required")
    assert error["details"]["reason"] == "password"
    assert User.objects.filter(pk=user.pk).exists()
    # One more login attempt counted (the lockout), one more session for the client: else
    # everything is as it was.
    after = _traces(user.pk, user.email)
    assert {t for t in before if "LoginAttemptWindow" not in t} <= set(after)
    assert not mail.outbox
    assert _blob_keys(user) == world["blob_keys"]
    assert all(Path(settings.MEDIA_ROOT, key).exists() for key in world["blob_keys"])


def test_delete_without_password_is_refused_for_an_account_with_one(user):
    response = _delete(_signed_in(user), password=None)
    assert "password" in assert_error(response, 400, "validation_error")["details"]["fields"]
    assert User.objects.filter(pk=user.pk).exists()


def test_wrong_passwords_count_towards_the_login_lockout(user, settings):
    client = _signed_in(user)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert_error(_delete(client, password="guess"), 403, "reauthentication_required")
    response = _delete(client)  # even the right password, while locked
    assert_error(response, 429, "too_many_attempts")
    assert User.objects.filter(pk=user.pk).exists()


def test_delete_requires_authentication(user):
    assert_error(_delete(APIClient()), 401, "not_authenticated")
    assert User.objects.filter(pk=user.pk).exists()


@pytest.fixture
def passwordless(db):
    user = User.objects.create_user("social@example.com", None, name="Social Only")
    assert not user.has_usable_password()
    return user


def test_passwordless_account_is_deleted_with_a_fresh_sign_in(
    passwordless, django_capture_on_commit_callbacks
):
    response = _delete(
        _signed_in(passwordless), password=None, capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 204
    assert not User.objects.filter(pk=passwordless.pk).exists()


def test_passwordless_account_needs_a_sign_in_within_five_minutes(passwordless):
    pair = tokens.issue_pair(passwordless)
    TokenFamily.objects.filter(user=passwordless).update(
        created_at=timezone.now() - timedelta(minutes=5, seconds=5)
    )
    response = _delete(_bearer(pair["access_token"]), password=None)
    error = assert_error(response, 403, "reauthentication_required")
    assert error["details"] == {"reason": "recent_sign_in", "max_age_seconds": 300}
    assert User.objects.filter(pk=passwordless.pk).exists()


def test_passwordless_account_refreshed_token_is_not_a_fresh_sign_in(passwordless):
    """A refresh issues a new access token without the user being there."""
    pair = tokens.issue_pair(passwordless)
    TokenFamily.objects.filter(user=passwordless).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    refreshed = APIClient().post(
        "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == 200
    response = _delete(_bearer(refreshed.json()["access_token"]), password=None)
    assert_error(response, 403, "reauthentication_required")
    assert User.objects.filter(pk=passwordless.pk).exists()


def test_owned_group_passes_to_its_longest_standing_admin(user, django_capture_on_commit_callbacks):
    group = make_group(user)
    member, first_admin, second_admin = UserFactory(), UserFactory(), UserFactory()
    add(group, member)
    add(group, first_admin, role=Role.ADMIN)
    add(group, second_admin, role=Role.ADMIN)
    _delete(_signed_in(user), capture=django_capture_on_commit_callbacks)
    roles = dict(GroupMembership.objects.filter(group=group).values_list("user_id", "role"))
    assert roles == {
        member.pk: Role.MEMBER,
        first_admin.pk: Role.OWNER,
        second_admin.pk: Role.ADMIN,
    }


def test_owned_group_without_admin_passes_to_its_longest_standing_member(
    user, django_capture_on_commit_callbacks
):
    group = make_group(user)
    first, second = UserFactory(), UserFactory()
    add(group, first)
    add(group, second)
    invited = UserFactory()
    add(group, invited, status="invited")
    _delete(_signed_in(user), capture=django_capture_on_commit_callbacks)
    owner = GroupMembership.objects.get(group=group, role=Role.OWNER)
    assert owner.user_id == first.pk


def test_owned_group_with_no_one_else_active_is_deleted(user, django_capture_on_commit_callbacks):
    group = make_group(user)
    add(group, UserFactory(), status="requested")
    _delete(_signed_in(user), capture=django_capture_on_commit_callbacks)
    assert not Group.objects.filter(pk=group.pk).exists()


def test_a_deleted_account_is_not_brought_back_by_its_firebase_token(
    settings, django_capture_on_commit_callbacks
):
    settings.FIREBASE_PROJECT_ID = "fitness-test"
    claims = firebase.FirebaseIdToken(
        sub="firebase-uid-1",
        email="fb@example.com",
        email_verified=True,
        auth_time=int(timezone.now().timestamp()),
    )
    user = services.user_for_firebase_token(claims=claims)
    _delete(_signed_in(user), password=None, capture=django_capture_on_commit_callbacks)
    assert not User.objects.filter(pk=user.pk).exists()

    with pytest.raises(firebase.FirebaseTokenInvalid):
        services.user_for_firebase_token(claims=claims)
    assert not User.objects.filter(firebase_uid="firebase-uid-1").exists()
