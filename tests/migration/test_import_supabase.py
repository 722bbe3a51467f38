import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import User
from ai_assistant.models import AIConversation
from food.models import FoodLog
from migration.ids import legacy_uuid
from migration.models import IdMap, MigrationRun, RunStatus
from migration.report import build_report, report_lines
from social.models import Group
from tests.conftest import client_for
from workouts.models import Workout

pytestmark = pytest.mark.django_db(transaction=True)


def _run(standin, *args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_supabase", "--database-url", standin.url, *args, stdout=out)
    return out.getvalue()


def _report(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("migration_report", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(standin):
    ana = standin.add_auth_user(email="Ana@Example.com", password="old-supabase-pass")
    bob = standin.add_auth_user(email="bob@example.com", password="bobs-password")
    standin.add_profile(
        ana,
        email="ana@example.com",
        name="Ana",
        gender="Female",
        height={"value": 65, "unit": "in"},
        weight={"value": 130, "unit": "lb"},
        social_connections=[{"provider": "strava", "id": "s-1"}],
    )
    good = standin.add_food_log(
        ana,
        name="Porridge",
        calories=310,
        protein=10.456,
        tags=["oats", "warm"],
        shared_with=[bob],
        app_version="2.3.1",
        logged_local="2026-03-01 09:30:00",
    )
    negative = standin.add_food_log(ana, name="Bug", calories=-20)
    orphan = standin.add_food_log(None, name="Nobody's")
    stranger = standin.add_food_log(uuid.uuid4(), name="Unknown owner")
    workout = uuid.uuid4()
    standin.execute(
        "INSERT INTO workouts (id, user_id, name, type, duration, calories_burned, completed, "
        "created_at, exercises, progress_photos) VALUES (%s, %s, 'Legs', 'Strength', 45, 300, "
        "true, '2026-02-01 18:00:00', ARRAY[%s::jsonb, %s::jsonb], ARRAY['gs://b/p.jpg'])",
        (
            workout,
            ana,
            '{"name": "Squat", "sets": 3, "reps": 5, "weight": 80, "tempo": "3-1-1"}',
            '{"name": "Lunge", "sets": 2, "reps": 10}',
        ),
    )
    group = uuid.uuid4()
    standin.execute(
        "INSERT INTO groups (id, name, created_by, members, challenges) VALUES "
        "(%s, 'Runners', %s, ARRAY[%s::jsonb], ARRAY[%s::jsonb])",
        (group, ana, json.dumps({"user_id": str(ana), "role": "admin"}), '{"name": "10k"}'),
    )
    conversation = uuid.uuid4()
    standin.execute(
        "INSERT INTO ai_conversations (id, user_id, session_id, context, messages) VALUES "
        '(%s, %s, %s, \'{"goal": "cut"}\', ARRAY[%s::jsonb, %s::jsonb])',
        (
            conversation,
            ana,
            uuid.uuid4(),
            '{"role": "user", "content": "Hi", "timestamp": "2026-03-01T10:00:00Z"}',
            '{"role": "model", "content": "Hello!", "timestamp": "2026-03-01T10:00:02Z"}',
        ),
    )
    return {
        "ana": ana,
        "bob": bob,
        "good": good,
        "negative": negative,
        "orphan": orphan,
        "stranger": stranger,
        "workout": workout,
        "group": group,
        "conversation": conversation,
    }


def _login(email: str, password: str):
    return APIClient().post(
        "/api/v1/auth/login", {"email": email, "password": password}, format="json"
    )


def test_import_rerun_delta_report_and_corruption(seeded, standin, bcrypt_hasher):
    out = _run(standin)
    run = MigrationRun.objects.get()
    assert run.status == RunStatus.COMPLETED
    food = run.counts["food_logs"]
    assert (food["source_rows"], food["imported"], food["rejected"]) == (4, 1, 3)
    assert set(food["reasons"]) == {
        "calories: Ensure this value is greater than or equal to 0.",
        "missing owner",
        "owner not imported",
    }
    assert "rejected 1: missing owner" in out

    ana = User.objects.get(pk=seeded["ana"])  # the Supabase UUID is kept
    assert ana.email == "ana@example.com"
    assert ana.password.startswith("bcrypt$")
    assert ana.gender == "female"
    ana_map = IdMap.objects.get(source_table="auth_users", old_id=str(ana.pk))
    assert "confirmation_token" not in ana_map.legacy  # the old system's secrets stay behind
    assert ana_map.legacy["aud"] == "authenticated"
    assert ana.legacy["supabase"] == ana_map.legacy
    assert ana.migration_source == "supabase"
    assert ana.email_verified is False  # email_confirmed_at was null
    assert ana.height_cm == Decimal("165.10")  # 65 in
    assert ana.weight_kg == Decimal("58.97")  # 130 lb

    log = FoodLog.objects.get(pk=seeded["good"])
    assert log.owner_id == ana.pk
    assert log.protein == Decimal("10.46")
    assert sorted(t.name for t in log.tags.all()) == ["oats", "warm"]
    assert [s.user_id for s in log.shares.all()] == [seeded["bob"]]
    # Unknown columns are kept, the zone-less time read as UTC.
    assert log.metadata["legacy"] == {
        "app_version": "2.3.1",
        "logged_local": "2026-03-01T09:30:00+00:00",
    }
    assert log.metadata["source"] == "app"

    workout = Workout.objects.get(pk=seeded["workout"])
    assert workout.type == "strength"
    assert workout.created_at == datetime(2026, 2, 1, 18, 0, tzinfo=UTC)
    assert [(e.name, e.sets, e.reps) for e in workout.exercises.order_by("position")] == [
        ("Squat", 3, 5),
        ("Lunge", 2, 10),
    ]
    workout_map = IdMap.objects.get(source_table="workouts", old_id=str(seeded["workout"]))
    assert workout_map.legacy["progress_photos"] == ["gs://b/p.jpg"]
    assert workout_map.legacy["exercises_extra"] == [{"tempo": "3-1-1"}, {}]

    # The group's JSONB[] arrays become social rows; the creator is the owner.
    group = Group.objects.get(pk=seeded["group"])
    assert (group.name, group.created_by_id) == ("Runners", ana.pk)
    assert [(m.user_id, m.role, m.status) for m in group.memberships.all()] == [
        (ana.pk, "owner", "active")
    ]
    group_map = IdMap.objects.get(source_table="groups", old_id=str(seeded["group"]))
    assert group_map.owner_id == ana.pk
    assert group_map.legacy["members_extra"] == {str(ana.pk): {"role": "admin"}}
    # A challenge without a type or dates is kept whole, with why, not guessed at.
    assert [c["challenge"] for c in group_map.legacy["challenges_not_imported"]] == [
        {"name": "10k"}
    ]
    assert not group.challenges.exists()

    conversation = AIConversation.objects.get(pk=seeded["conversation"])
    assert [(m.role, m.content) for m in conversation.messages.all()] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
    ]

    # The old password logs in, and is re-hashed with the default hasher afterwards.
    response = _login("ANA@example.com", "old-supabase-pass")
    assert response.status_code == 200, response.content
    ana.refresh_from_db()
    assert ana.password.startswith("md5$")
    assert _login("ana@example.com", "wrong").status_code == 401

    # A second run changes nothing and says so.
    out = _run(standin)
    assert "No change" in out
    second = MigrationRun.objects.order_by("-started_at").first()
    assert second.counts["food_logs"]["unchanged"] == 1
    assert second.counts["food_logs"]["imported"] == second.counts["food_logs"]["updated"] == 0
    ana.refresh_from_db()
    assert ana.password.startswith("md5$")  # the re-hashed password is not overwritten

    # A delta pass after one source row changed updates only that row.
    standin.execute("UPDATE food_logs SET calories = 333 WHERE id = %s", (seeded["good"],))
    _run(standin)
    delta = MigrationRun.objects.order_by("-started_at").first()
    assert delta.counts["food_logs"]["updated"] == 1
    assert sum(c["imported"] + c["updated"] for c in delta.counts.values()) == 1
    assert FoodLog.objects.get(pk=seeded["good"]).calories == 333

    out = _report()
    assert "OK" in out.splitlines()[-1]
    delta.refresh_from_db()
    assert delta.report["ok"] is True
    assert delta.report["entities"]["food_logs"]["content"]["checked"] == 1

    # An owner's own edit through the API is a newer version, not a loss.
    ana_client = client_for(User.objects.get(pk=seeded["ana"]))
    workout_url = f"/api/v1/workouts/{seeded['workout']}"
    assert ana_client.patch(workout_url, {"name": "Leg day"}, format="json").status_code == 200
    report = build_report(delta)
    assert report["ok"] is True, "\n".join(report_lines(report))
    assert report["entities"]["workouts"]["content"]["changed_here"] == 1
    # ... and a deleted log stays deleted when the old app changes it again.
    assert ana_client.delete(f"/api/v1/food/logs/{seeded['good']}").status_code == 204
    standin.execute("UPDATE food_logs SET calories = 340 WHERE id = %s", (seeded["good"],))
    _run(standin)
    after_delete = MigrationRun.objects.order_by("-started_at").first()
    assert after_delete.counts["food_logs"]["reasons"]["log deleted here since the import"] == 1
    assert FoodLog.objects.get(pk=seeded["good"]).deleted_at is not None
    assert "OK" in _report().splitlines()[-1]

    # One imported row changed behind the importer's back: the report fails.
    surviving = IdMap.objects.get(source_table="ai_conversations")
    AIConversation.objects.filter(pk=surviving.new_id).update(context={"goal": "bulk"})
    with pytest.raises(CommandError):
        _report()
    after_delete.refresh_from_db()
    assert after_delete.report["ok"] is False
    examples = after_delete.report["entities"]["ai_conversations"]["content"]["examples"]
    conversation = str(seeded["conversation"])
    assert examples == [{"id": conversation, "new_id": conversation, "problem": "content differs"}]


def test_dry_run_writes_nothing(seeded, standin):
    out = _run(standin, "--dry-run")
    assert "nothing was written" in out
    run = MigrationRun.objects.get()
    assert run.status == RunStatus.DRY_RUN
    assert run.counts["food_logs"]["imported"] == 1
    assert not User.objects.exists()
    assert not FoodLog.objects.exists()
    assert not Group.objects.exists()
    assert not IdMap.objects.exists()


def test_the_source_connection_is_read_only(standin):
    import psycopg

    from migration.importers.supabase import connect

    with connect(standin.url) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO groups (id, name) VALUES (gen_random_uuid(), 'x')")


def test_unreachable_source_fails_the_run(standin):
    with pytest.raises(CommandError):
        call_command(
            "import_supabase", "--database-url", standin.url.rsplit("/", 1)[0] + "/no_such_db"
        )
    assert MigrationRun.objects.get().status == RunStatus.FAILED


def test_users_from_firebase_are_matched_by_email_or_uid(standin):
    firebase = User.objects.create_user("carla@example.com", "pw", firebase_uid="fb-carla")
    by_uid = User.objects.create_user("dan-old@example.com", "pw", firebase_uid="fb-dan")
    standin.add_auth_user(email="CARLA@example.com", password="x")
    standin.add_auth_user(email="dan@example.com", meta={"firebase_uid": "fb-dan"})
    standin.execute("UPDATE auth.users SET email_confirmed_at = now() WHERE email LIKE 'dan%%'")
    _run(standin)
    assert User.objects.count() == 2
    carla = User.objects.get(pk=firebase.pk)
    assert carla.password == firebase.password  # the Firebase password stays
    dan = User.objects.get(pk=by_uid.pk)
    assert dan.email == "dan@example.com"
    assert dan.email_verified is True
    assert carla.email_verified is False


def test_ids_endpoint_answers_only_the_callers_rows(seeded, standin):
    from tests.conftest import client_for

    _run(standin)
    ana = User.objects.get(pk=seeded["ana"])
    bob = User.objects.get(pk=seeded["bob"])
    IdMap.objects.create(
        source_table="food_logs",
        old_id="legacy-7",
        new_id=legacy_uuid("food_logs", "legacy-7"),
        owner=bob,
    )
    good = str(seeded["good"])
    response = client_for(ana).get(
        f"/api/v1/migration/ids?table=food_logs&ids={good},legacy-7,nope"
    )
    assert response.status_code == 200
    assert response.json() == {"table": "food_logs", "ids": {good: good}}
    response = client_for(bob).get("/api/v1/migration/ids?table=food_logs&ids=legacy-7")
    assert response.json()["ids"] == {"legacy-7": str(legacy_uuid("food_logs", "legacy-7"))}
    response = client_for(ana).get("/api/v1/migration/ids?table=nope&ids=a")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert APIClient().get("/api/v1/migration/ids?table=food_logs&ids=a").status_code == 401
