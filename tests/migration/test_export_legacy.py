import json
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from food.models import FoodLog, FoodLogTag
from migration.models import IdMap

pytestmark = pytest.mark.django_db


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_writes_what_changed_since_the_cut_over_in_source_shapes(tmp_path):
    cut_over = timezone.now() - timedelta(hours=1)
    old_supabase_id = uuid.uuid4()
    ana = User.objects.create_user(
        "ana@example.com", "secret-pass", name="Ana", firebase_uid="fb-ana"
    )
    IdMap.objects.create(
        source_table="auth_users", old_id=str(old_supabase_id), new_id=ana.pk, owner=ana
    )
    newcomer = User.objects.create_user(
        "new@example.com", "secret-pass", name="New", is_active=False
    )
    imported = FoodLog.objects.create(
        owner=ana,
        name="Porridge",
        calories=310,
        timestamp=datetime(2026, 3, 1, 8, tzinfo=UTC),
        metadata={"source": "app", "legacy": {"app_version": "2.3.1"}},
    )
    FoodLogTag.objects.create(food_log=imported, name="oats")
    IdMap.objects.create(source_table="food_logs", old_id="legacy-7", new_id=imported.pk, owner=ana)
    written_here = FoodLog.objects.create(owner=newcomer, name="Salad", calories=120)
    before = FoodLog.objects.create(owner=ana, name="Old", calories=1)
    FoodLog.objects.filter(pk=before.pk).update(updated_at=cut_over - timedelta(days=1))

    out = StringIO()
    call_command(
        "export_legacy", "--since", cut_over.isoformat(), "--out", str(tmp_path), stdout=out
    )

    users = json.loads((tmp_path / "users.json").read_text())["users"]
    by_email = {u["email"]: u for u in users}
    assert by_email["ana@example.com"]["localId"] == "fb-ana"
    assert by_email["new@example.com"]["localId"] == str(newcomer.pk)
    assert by_email["new@example.com"]["disabled"] is True
    assert all("passwordHash" not in u and "salt" not in u for u in users)

    logs = {row["id"]: row for row in _lines(tmp_path / "food_logs.jsonl")}
    assert set(logs) == {"legacy-7", str(written_here.pk)}
    porridge = logs["legacy-7"]
    assert porridge["user_id"] == str(old_supabase_id)  # the owner as the source named it
    assert porridge["tags"] == ["oats"]
    assert porridge["timestamp"] == "2026-03-01T08:00:00+00:00"
    assert porridge["metadata"] == {"source": "app"}
    assert porridge["app_version"] == "2.3.1"  # the legacy column back under its own name
    assert logs[str(written_here.pk)]["user_id"] == str(newcomer.pk)
    assert "food_logs: 2 rows" in out.getvalue()


def test_export_refuses_a_bad_since(tmp_path):
    with pytest.raises(CommandError):
        call_command("export_legacy", "--since", "yesterday", "--out", str(tmp_path))
