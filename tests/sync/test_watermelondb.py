"""The real WatermelonDB client (`@nozbe/watermelondb` 0.28 with its LokiJS adapter, under
Node) syncing two devices of one user against a running server (tests/sync/watermelondb)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accounts import tokens
from food.models import FoodLog
from tests.factories import UserFactory
from workouts.models import Exercise, ExerciseSet, Workout

CLIENT = Path(__file__).parent / "watermelondb"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "sync-e2e"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which("node") is None or shutil.which("npm") is None,
        reason="Node.js and npm are needed for the WatermelonDB end-to-end test "
        "(.ci/run installs them: apt-get install nodejs npm)",
    ),
]


def _node_modules() -> Path:
    """`npm ci` of the pinned packages into a cache outside the source tree, once per
    lock file."""
    lock = (CLIENT / "package-lock.json").read_text()
    CACHE.mkdir(parents=True, exist_ok=True)
    installed = CACHE / "package-lock.json"
    if not (CACHE / "node_modules").is_dir() or installed.read_text() != lock:
        shutil.copy(CLIENT / "package.json", CACHE / "package.json")
        installed.write_text(lock)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=CACHE,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return CACHE / "node_modules"


def test_two_watermelondb_devices_sync_through_the_server(live_server):
    user = UserFactory()
    token = tokens.issue_pair(user)["access_token"]
    env = {
        **os.environ,
        "NODE_PATH": str(_node_modules()),
        "BASE_URL": live_server.url,
        "TOKEN": token,
    }

    run = subprocess.run(
        ["node", str(CLIENT / "sync_e2e.js")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    ids = result["ids"]
    # The phone's offline work reached the server, and the tablet sees exactly the same.
    assert result["tabletLogs"] == result["phoneLogs"]
    assert {log["id"] for log in result["tabletLogs"]} == {ids["oats"], ids["tea"]}
    oats = next(log for log in result["tabletLogs"] if log["id"] == ids["oats"])
    assert oats["calories"] == 350 and oats["tags"] == '["grain"]'
    assert FoodLog.objects.for_owner(user).count() == 2
    assert not FoodLog.objects.filter(pk=ids["crisps"]).exists()
    assert result["tabletWorkouts"] == [{"id": ids["legs"], "name": "Legs", "volume_kg": 2500}]
    assert result["tabletExercises"][0]["name"] == "Squat"
    assert Workout.objects.get(pk=ids["legs"]).owner == user
    assert Exercise.objects.filter(workout_id=ids["legs"]).count() == 1
    # The tablet's set log and profile edit reached the phone; both devices hold the set
    # under the server's number, not the tablet's UUID.
    stored_set = ExerciseSet.objects.get(exercise__workout_id=ids["legs"])
    assert result["sets"]["phone"] == result["sets"]["tablet"]
    assert result["sets"]["phone"] == [
        {
            "id": str(stored_set.pk),
            "exercise_id": result["tabletExercises"][0]["id"],
            "reps": 5,
            "weight": 225,
            "weight_unit": "lb",
            "rpe": 8,
            "completed": True,
        }
    ]
    user.refresh_from_db()
    assert (user.name, float(user.weight_kg)) == ("Tablet user", 72.5)
    expected_profile = [{"id": str(user.pk), "name": "Tablet user", "weight_kg": 72.5}]
    assert result["profiles"]["phone"] == result["profiles"]["tablet"] == expected_profile
    # Both edited the tea offline; the tablet synced last: its changed columns win on
    # both devices and on the server (WatermelonDB's per-column resolution).
    phone, tablet = result["afterConflict"]["phone"], result["afterConflict"]["tablet"]
    assert phone == tablet
    tea = next(log for log in tablet if log["id"] == ids["tea"])
    assert (tea["name"], tea["calories"]) == ("Mint tea", 3)
    assert FoodLog.objects.get(pk=ids["tea"]).name == "Mint tea"
    assert result["profile"][0]["id"] == str(user.pk)
    assert all(push["experimentalRejectedIds"] == {} for push in result["pushes"])
