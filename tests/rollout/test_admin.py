"""Staff change flags, switches, values and minimum versions in the admin: each change is
audited (who, when, before, after) and reaches the API's next request."""

import pytest
from django.test import Client
from waffle.models import Switch

from rollout.models import ChangeRecord, Flag, MinAppVersion
from tests.asserts import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True, email="ops@example.com")


@pytest.fixture
def admin_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_switching_off_in_admin_is_audited_and_answers_at_once(
    admin_client, staff, auth_client, django_capture_on_commit_callbacks
):
    switch = Switch.objects.get(name="ai_chat")  # created on, by the migration
    assert auth_client.get("/api/v1/config").json()["flags"]["ai_chat"] is True

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/waffle/switch/{switch.pk}/change/",
            {"name": "ai_chat", "active": "", "note": switch.note},
        )

    assert response.status_code == 302
    record = ChangeRecord.objects.get()
    assert (record.actor, record.actor_email, record.kind, record.name, record.action) == (
        staff,
        "ops@example.com",
        "switch",
        "ai_chat",
        "changed",
    )
    assert record.before["active"] is True
    assert record.after["active"] is False
    assert record.at is not None
    assert auth_client.get("/api/v1/config").json()["flags"]["ai_chat"] is False
    session = auth_client.post("/api/v1/ai/chat/start", {}, format="json").json()["session_id"]
    assert_error(
        auth_client.post(f"/api/v1/ai/chat/{session}/msg", {"message": "hi"}, format="json"),
        503,
        "feature_disabled",
    )


def test_saving_without_a_change_records_nothing(admin_client):
    switch = Switch.objects.get(name="uploads")
    admin_client.post(
        f"/admin/waffle/switch/{switch.pk}/change/",
        {"name": "uploads", "active": "on", "note": switch.note},
    )
    assert ChangeRecord.objects.count() == 0


def test_flag_creation_with_users_and_deletion_are_audited(admin_client, user):
    created = admin_client.post(
        "/admin/rollout/flag/add/",
        {
            "name": "new_diary",
            "everyone": "unknown",
            "percent": "12.5",
            "users": str(user.pk),
            "platforms": "ios",
            "min_app_version": "2.4.0",
            "max_app_version": "",
            "note": "",
        },
    )
    assert created.status_code == 302, created.content
    flag = Flag.objects.get(name="new_diary")
    add = ChangeRecord.objects.get(action="created")
    assert add.before is None
    assert add.after["users"] == [str(user.pk)]
    assert add.after["percent"] == "12.5"

    admin_client.post(f"/admin/rollout/flag/{flag.pk}/delete/", {"post": "yes"})

    assert not Flag.objects.exists()
    removed = ChangeRecord.objects.get(action="deleted")
    assert removed.before["min_app_version"] == "2.4.0"
    assert removed.after is None


def test_admin_refuses_an_unreadable_version_and_records_nothing(admin_client):
    response = admin_client.post(
        "/admin/rollout/minappversion/add/", {"platform": "ios", "version": "soon"}
    )
    assert response.status_code == 200  # the form again, with its error
    assert not MinAppVersion.objects.exists()
    assert ChangeRecord.objects.count() == 0


def test_staff_raise_the_minimum_version_without_a_deploy(
    admin_client, auth_client, django_capture_on_commit_callbacks
):
    old_app = {"X-Platform": "android", "X-App-Version": "3.0.0"}
    assert auth_client.get("/api/v1/auth/me", headers=old_app).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/rollout/minappversion/add/", {"platform": "android", "version": "3.1.0"}
        )

    assert_error(auth_client.get("/api/v1/auth/me", headers=old_app), 426, "app_update_required")
    assert ChangeRecord.objects.get().after == {"platform": "android", "version": "3.1.0"}


def test_audit_trail_is_read_only_in_admin(admin_client):
    assert admin_client.get("/admin/rollout/changerecord/").status_code == 200
    assert admin_client.get("/admin/rollout/changerecord/add/").status_code == 403
