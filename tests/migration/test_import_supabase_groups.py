"""The plan's `groups` rows, with their `JSONB[]` members and challenges, into the social
tables: memberships, challenges, participants, and the boards computed after the run."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from migration.ids import legacy_uuid
from migration.models import IdMap, MigrationRun
from migration.report import build_report, report_lines
from social.models import Challenge, ChallengeParticipant, Group, GroupMembership
from tests.conftest import client_for
from workouts.models import Workout

pytestmark = pytest.mark.django_db(transaction=True)


def _run(standin, *args) -> str:
    out = StringIO()
    call_command("import_supabase", "--database-url", standin.url, *args, stdout=out)
    return out.getvalue()


def _latest() -> MigrationRun:
    return MigrationRun.objects.order_by("-started_at").first()


def _jsonb_array(values: list) -> str:
    return "ARRAY[" + ", ".join(["%s::jsonb"] * len(values)) + "]::jsonb[]"


def _add_group(standin, group_id, *, creator, members, challenges, **extra) -> None:
    standin.execute(
        "INSERT INTO groups (id, name, description, created_by, created_at, settings, members, "
        f"challenges) VALUES (%s, %s, %s, %s, %s, %s, {_jsonb_array(members)}, "
        f"{_jsonb_array(challenges)})",
        (
            group_id,
            extra.get("name", "Runners"),
            extra.get("description"),
            creator,
            extra.get("created_at", "2026-01-01T09:00:00+00:00"),
            json.dumps(extra["settings"]) if "settings" in extra else None,
            *[json.dumps(m) for m in members],
            *[json.dumps(c) for c in challenges],
        ),
    )


def _add_workout(standin, owner, *, minutes: int, when: str, group=None):
    workout_id = uuid.uuid4()
    standin.execute(
        "INSERT INTO workouts (id, user_id, name, type, duration, completed, created_at, "
        "group_id) VALUES (%s, %s, 'Run', 'cardio', %s, true, %s, %s)",
        (workout_id, owner, minutes, when, group),
    )
    return workout_id


@pytest.fixture
def social_seed(standin):
    ana = standin.add_auth_user(email="ana@example.com", password="pw")
    bob = standin.add_auth_user(email="bob@example.com", password="pw")
    cai = standin.add_auth_user(email="cai@example.com", password="pw")
    stranger = uuid.uuid4()  # named by the group, never a user of the old app
    group = uuid.uuid4()
    past = uuid.uuid4()
    soon_start = (timezone.now() - timedelta(days=1)).isoformat()
    soon_end = (timezone.now() + timedelta(days=20)).isoformat()
    _add_group(
        standin,
        group,
        creator=ana,
        description="Sunday long runs",
        settings={"visibility": "public", "join_policy": "open", "theme": "green"},
        members=[
            {"user_id": str(ana), "role": "admin", "joined_at": "2026-01-01T09:00:00Z"},
            # The source calls a second member owner: one owner here, the creator.
            {
                "user_id": str(bob),
                "role": "owner",
                "status": "active",
                "joined_at": "2026-01-02T10:00:00",  # no zone: UTC
                "nickname": "B",
            },
            {"user_id": str(cai), "role": "member", "status": "invited"},
            {"user_id": str(stranger), "role": "member", "status": "active"},
        ],
        challenges=[
            {
                "id": str(past),
                "name": "February minutes",
                "type": "workout_minutes",
                "goals": {"target": 60, "unit": "minutes", "stretch": 90},
                "start_date": "2026-02-01T00:00:00Z",
                "end_date": "2026-03-01T00:00:00Z",
                # Cai is only invited, the stranger not imported: neither takes part.
                "participants": [str(ana), str(bob), str(cai), str(stranger)],
                "leaderboard": [{"user_id": str(bob), "score": 999}],
            },
            {
                "id": "c-3",
                "name": "This month",
                "type": "workout_count",
                "goals": {"target": 3},
                "start_date": soon_start,
                "end_date": soon_end,
                "participants": [str(ana)],
            },
            {
                "id": str(uuid.uuid4()),
                "name": "Steps",
                "type": "steps",
                "goals": {"target": 10000},
                "start_date": "2026-02-01",
                "end_date": "2026-02-02",
            },
        ],
    )
    workouts = {
        "ana_group": _add_workout(
            standin, ana, minutes=45, when="2026-02-10 07:00:00", group=group
        ),
        "bob": _add_workout(standin, bob, minutes=30, when="2026-02-12 07:00:00"),
        "bob_late": _add_workout(standin, bob, minutes=50, when="2026-03-02 07:00:00"),
        # Cai is not an active member; the other group was never in the source.
        "cai_group": _add_workout(
            standin, cai, minutes=20, when="2026-02-11 07:00:00", group=group
        ),
        "lost_group": _add_workout(
            standin, ana, minutes=10, when="2026-02-13 07:00:00", group=uuid.uuid4()
        ),
    }
    return {
        "ana": ana,
        "bob": bob,
        "cai": cai,
        "stranger": stranger,
        "group": group,
        "past": past,
        "workouts": workouts,
    }


def test_groups_become_memberships_challenges_and_boards(social_seed, standin):
    s = social_seed
    _run(standin)
    run = _latest()
    assert run.counts["groups"]["imported"] == 1

    group = Group.objects.get(pk=s["group"])  # the UUID is kept
    assert (group.name, group.description, group.created_by_id) == (
        "Runners",
        "Sunday long runs",
        s["ana"],
    )
    assert group.visibility == "public" and group.join_policy == "open"
    assert group.created_at.isoformat() == "2026-01-01T09:00:00+00:00"
    members = {
        m.user_id: (m.role, m.status, m.joined_at and m.joined_at.isoformat())
        for m in group.memberships.all()
    }
    assert members == {
        s["ana"]: ("owner", "active", "2026-01-01T09:00:00+00:00"),
        s["bob"]: ("admin", "active", "2026-01-02T10:00:00+00:00"),
        s["cai"]: ("member", "invited", None),
    }

    legacy = IdMap.objects.get(source_table="groups", old_id=str(s["group"])).legacy
    assert legacy["members_not_imported"] == [
        {"user_id": str(s["stranger"]), "role": "member", "status": "active"}
    ]
    assert legacy["members_extra"] == {
        str(s["ana"]): {"role": "admin"},
        str(s["bob"]): {"role": "owner", "nickname": "B"},
    }
    assert legacy["settings_extra"] == {"theme": "green"}
    [steps] = legacy["challenges_not_imported"]
    assert steps["challenge"]["name"] == "Steps"
    assert steps["reason"].startswith("type: ")

    past = Challenge.objects.get(pk=s["past"])
    assert (past.group_id, past.type, past.goals) == (
        s["group"],
        "workout_minutes",
        {"target": 60.0, "unit": "minutes"},
    )
    assert {p.user_id for p in past.participants.all()} == {s["ana"], s["bob"]}
    extra = legacy["challenges_extra"][str(s["past"])]
    assert extra["goals_extra"] == {"stretch": 90}
    assert extra["participants_not_imported"] == [str(s["cai"]), str(s["stranger"])]
    assert extra["leaderboard"] == [{"user_id": str(s["bob"]), "score": 999}]
    this_month = Challenge.objects.get(pk=legacy_uuid("groups.challenges", f"{s['group']}:c-3"))
    assert [p.user_id for p in this_month.participants.all()] == [s["ana"]]

    # The board of the challenge that ended before the import is computed from the imported
    # workouts (after the run), not copied from the source's.
    board = list(past.entries.order_by("rank").values_list("user_id", "rank", "score"))
    assert board == [(s["ana"], 1, Decimal("55.00")), (s["bob"], 2, Decimal("30.00"))]

    # A workout's group maps when its owner is an active member; otherwise the link is kept.
    assert Workout.objects.get(pk=s["workouts"]["ana_group"]).group_id == s["group"]
    for key in ("cai_group", "lost_group"):
        workout = Workout.objects.get(pk=s["workouts"][key])
        assert workout.group_id is None
        mapped = IdMap.objects.get(source_table="workouts", old_id=str(workout.pk))
        assert "group_id_unmapped" in mapped.legacy

    # The members see it through the API.
    response = client_for(User.objects.get(pk=s["bob"])).get(f"/api/v1/groups/{s['group']}")
    assert response.status_code == 200
    assert {m["user_id"] for m in response.json()["members"]} >= {str(s["ana"]), str(s["bob"])}

    report = build_report(run)
    assert report["ok"] is True, "\n".join(report_lines(report))
    assert report["entities"]["groups"]["content"]["checked"] == 1
    assert "OK" in _report_output().splitlines()[-1]

    # A second run changes nothing.
    assert "No change" in _run(standin)
    assert GroupMembership.objects.count() == 3
    assert ChallengeParticipant.objects.count() == 3


def _export(tmp_path, since) -> list[dict]:
    call_command(
        "export_legacy", "--since", since.isoformat(), "--out", str(tmp_path), stdout=StringIO()
    )
    return [json.loads(line) for line in (tmp_path / "groups.jsonl").read_text().splitlines()]


def test_export_writes_groups_in_the_plans_shape(social_seed, standin, tmp_path):
    s = social_seed
    cut_over = timezone.now() - timedelta(minutes=1)
    _run(standin)
    ana = client_for(User.objects.get(pk=s["ana"]))
    response = ana.post("/api/v1/groups", {"name": "Made here"}, format="json")
    assert response.status_code == 201, response.content
    made_here = response.json()["group"]["id"]

    rows = {row["id"]: row for row in _export(tmp_path, cut_over)}
    row = rows[str(s["group"])]
    assert set(row) == {
        "id",
        "name",
        "description",
        "created_by",
        "created_at",
        "updated_at",
        "settings",
        "members",
        "challenges",
    }
    assert (row["name"], row["created_by"]) == ("Runners", str(s["ana"]))
    assert row["settings"]["theme"] == "green"  # set aside at import, back in its place
    members = {m["user_id"]: m for m in row["members"]}
    assert members[str(s["bob"])]["nickname"] == "B"
    assert members[str(s["ana"])]["role"] == "owner"
    assert members[str(s["stranger"])] == {
        "user_id": str(s["stranger"]),
        "role": "member",
        "status": "active",
    }
    challenges = {c["name"]: c for c in row["challenges"]}
    assert set(challenges) == {"February minutes", "This month", "Steps"}
    february = challenges["February minutes"]
    assert february["id"] == str(s["past"])
    assert february["goals"] == {"target": 60.0, "unit": "minutes", "stretch": 90}
    assert sorted(february["participants"]) == sorted(
        [str(s["ana"]), str(s["bob"]), str(s["cai"]), str(s["stranger"])]
    )
    assert [(e["user_id"], e["rank"]) for e in february["leaderboard"]] == [
        (str(s["ana"]), 1),
        (str(s["bob"]), 2),
    ]
    assert challenges["This month"]["id"] == "c-3"  # the source's own id again
    assert rows[made_here]["created_by"] == str(s["ana"])  # a group made here goes out too
    assert [m["role"] for m in rows[made_here]["members"]] == ["owner"]

    # The workouts' group references go back as the source named them.
    workouts = {
        row["id"]: row
        for row in map(json.loads, (tmp_path / "workouts.jsonl").read_text().splitlines())
    }
    assert workouts[str(s["workouts"]["ana_group"])]["group_id"] == str(s["group"])
    lost = workouts[str(s["workouts"]["lost_group"])]
    assert lost["group_id"] is not None and "group_id_unmapped" not in lost

    # A group deleted here goes out as a tombstone.
    assert ana.delete(f"/api/v1/groups/{s['group']}").status_code == 204
    rows = {row["id"]: row for row in _export(tmp_path, cut_over)}
    assert set(rows[str(s["group"])]) == {"id", "_deleted_at"}


def _report_output() -> str:
    out = StringIO()
    call_command("migration_report", stdout=out)
    return out.getvalue()


def test_changes_here_deltas_and_corruption(social_seed, standin):
    s = social_seed
    _run(standin)
    bob = client_for(User.objects.get(pk=s["bob"]))

    # Bob leaves through the API: the group changed here, not lost.
    assert bob.delete(f"/api/v1/groups/{s['group']}/members/{s['bob']}").status_code == 204
    report = build_report(_latest())
    assert report["ok"] is True, "\n".join(report_lines(report))
    assert report["entities"]["groups"]["content"]["changed_here"] == 1

    # A delta pass after the source gained a member adds it, and keeps what happened here.
    dan = standin.add_auth_user(email="dan@example.com", password="pw")
    standin.execute(
        "UPDATE groups SET members = members || %s::jsonb, updated_at = now() WHERE id = %s",
        (json.dumps({"user_id": str(dan), "role": "member"}), s["group"]),
    )
    _run(standin)
    delta = _latest()
    assert delta.counts["groups"]["updated"] == 1
    assert GroupMembership.objects.get(group_id=s["group"], user_id=dan).status == "active"
    # Bob, still listed by the old app, is not brought back, nor into his challenge.
    assert not GroupMembership.objects.filter(group_id=s["group"], user_id=s["bob"]).exists()
    assert not ChallengeParticipant.objects.filter(user_id=s["bob"]).exists()
    report = build_report(delta)
    assert report["ok"] is True, "\n".join(report_lines(report))

    # A membership changed behind the API's back: the report fails.
    GroupMembership.objects.filter(group_id=s["group"], user_id=dan).update(role="admin")
    with pytest.raises(CommandError):
        _report_output()
    delta.refresh_from_db()
    examples = delta.report["entities"]["groups"]["content"]["examples"]
    assert examples == [
        {"id": str(s["group"]), "new_id": str(s["group"]), "problem": "content differs"}
    ]
    GroupMembership.objects.filter(group_id=s["group"], user_id=dan).update(role="member")

    # The owner deletes the group here: changed here, and not brought back by the old app.
    ana = client_for(User.objects.get(pk=s["ana"]))
    assert ana.delete(f"/api/v1/groups/{s['group']}").status_code == 204
    assert build_report(delta)["entities"]["groups"]["content"]["changed_here"] == 1
    standin.execute(
        "UPDATE groups SET name = 'Runners!', updated_at = now() WHERE id = %s", (s["group"],)
    )
    _run(standin)
    assert _latest().counts["groups"]["reasons"] == {"group deleted here since the import": 1}
    assert not Group.objects.filter(pk=s["group"]).exists()


def test_bad_groups_are_rejected_with_their_reason(standin):
    ana = standin.add_auth_user(email="ana@example.com", password="pw")
    _add_group(standin, uuid.uuid4(), creator=None, members=[], challenges=[])
    _add_group(standin, uuid.uuid4(), creator=uuid.uuid4(), members=[], challenges=[])
    _add_group(standin, uuid.uuid4(), creator=ana, members=[], challenges=[], name="x" * 101)
    _add_group(
        standin, uuid.uuid4(), creator=ana, members=[], challenges=[], settings={"max_members": 1}
    )
    _run(standin)
    counts = _latest().counts["groups"]
    assert (counts["source_rows"], counts["rejected"]) == (4, 4)
    assert set(counts["reasons"]) == {
        "missing owner",
        "owner not imported",
        "name: Ensure this field has no more than 100 characters.",
        "settings: max_members: Ensure this value is greater than or equal to 2.",
    }
    assert not Group.objects.exists()


def test_a_dry_run_writes_no_social_rows(social_seed, standin):
    _run(standin, "--dry-run")
    assert _latest().counts["groups"]["imported"] == 1
    assert not Group.objects.exists()
    assert not Challenge.objects.exists()
