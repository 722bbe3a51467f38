import runpy
from pathlib import Path

import pytest
from django.core.cache import cache

from food.models import FoodLog
from migration.models import MigrationRun
from migration.tasks import import_supabase_delta

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "fitness" / "settings.py"


def test_no_schedule_entry_by_default(monkeypatch):
    monkeypatch.delenv("MIGRATION_DELTA_INTERVAL", raising=False)
    assert (
        "migration-supabase-delta" not in runpy.run_path(str(SETTINGS_FILE))["CELERY_BEAT_SCHEDULE"]
    )


def test_interval_schedules_the_delta_task(monkeypatch):
    monkeypatch.setenv("MIGRATION_DELTA_INTERVAL", "300")
    monkeypatch.setenv("MIGRATION_SUPABASE_URL", "postgresql://supabase.example/postgres")
    entry = runpy.run_path(str(SETTINGS_FILE))["CELERY_BEAT_SCHEDULE"]["migration-supabase-delta"]
    assert entry["task"] == "migration.tasks.import_supabase_delta"
    assert entry["schedule"].total_seconds() == 300


@pytest.mark.django_db
def test_without_a_url_the_task_does_nothing(settings):
    settings.MIGRATION_SUPABASE_URL = ""
    assert import_supabase_delta() is None
    assert not MigrationRun.objects.exists()


def test_the_task_imports_only_what_changed(standin, settings):
    settings.MIGRATION_SUPABASE_URL = standin.url
    ana = standin.add_auth_user(email="ana@example.com")
    standin.add_food_log(ana, name="Toast")
    first = import_supabase_delta.apply().result
    assert FoodLog.objects.get().name == "Toast"
    standin.add_food_log(ana, name="Jam")
    second = MigrationRun.objects.get(pk=import_supabase_delta.apply().result)
    assert str(second.pk) != first
    assert second.options["since"] is not None  # started at the first run's mark
    assert second.counts["food_logs"]["imported"] == 1
    assert second.counts["auth_users"]["source_rows"] == 1  # boundary row re-read, unchanged
    assert second.counts["auth_users"]["unchanged"] == 1


def test_a_pass_still_running_makes_the_next_skip(standin, settings):
    settings.MIGRATION_SUPABASE_URL = standin.url
    cache.add("migration:supabase-delta", 1, timeout=60)
    assert import_supabase_delta() is None
    assert not MigrationRun.objects.exists()
