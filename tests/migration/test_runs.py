import io
import uuid

import pytest
from django.db import transaction

from migration.ids import legacy_uuid
from migration.models import IdMap, MigrationRun, RunStatus
from migration.progress import terminal_progress
from migration.runs import RunRecorder, latest_high_water_mark

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_counts_outcomes_and_rejects_with_reasons():
    recorder = RunRecorder.start(source="supabase", options={"since": None})
    recorder.seen("food_logs", 4)
    recorder.record("food_logs", "imported", 2)
    recorder.record("food_logs", "unchanged")
    recorder.reject("food_logs", old_id=7, reason="negative calories")
    run = recorder.finish()

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.finished_at is not None
    food = run.counts["food_logs"]
    assert (food["source_rows"], food["imported"], food["unchanged"], food["rejected"]) == (
        4,
        2,
        1,
        1,
    )
    assert food["reasons"] == {"negative calories": 1}
    assert food["rejects"] == [{"id": "7", "reason": "negative calories"}]


def test_unknown_outcome_is_refused():
    recorder = RunRecorder.start(source="supabase")
    with pytest.raises(ValueError):
        recorder.record("food_logs", "guessed")


def test_a_run_finished_inside_a_transaction_is_refused():
    recorder = RunRecorder.start(source="supabase")
    with pytest.raises(RuntimeError), transaction.atomic():
        recorder.finish()


def test_dry_runs_and_failures_do_not_move_the_high_water_mark():
    from datetime import UTC, datetime

    mark = datetime(2026, 1, 2, tzinfo=UTC)
    RunRecorder.start(source="supabase").finish(high_water_mark=mark)
    RunRecorder.start(source="supabase", dry_run=True).finish(
        high_water_mark=datetime(2026, 5, 1, tzinfo=UTC)
    )
    RunRecorder.start(source="supabase").fail("source unreachable")
    assert latest_high_water_mark("supabase") == mark
    assert latest_high_water_mark("firebase_auth") is None
    assert MigrationRun.objects.filter(status=RunStatus.DRY_RUN).count() == 1


def test_legacy_uuid_keeps_uuids_and_derives_the_rest_deterministically():
    kept = uuid.uuid4()
    assert legacy_uuid("food_logs", str(kept)) == kept
    assert legacy_uuid("food_logs", "abc") == legacy_uuid("food_logs", "abc")
    assert legacy_uuid("food_logs", "abc") != legacy_uuid("workouts", "abc")


def test_id_map_is_unique_on_table_and_old_id():
    from django.db import IntegrityError

    IdMap.objects.create(source_table="food_logs", old_id="1", new_id=uuid.uuid4())
    with pytest.raises(IntegrityError):
        IdMap.objects.create(source_table="food_logs", old_id="1", new_id=uuid.uuid4())


class _Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_only_on_a_terminal():
    assert terminal_progress(_Terminal(tty=False)) is None
    terminal = _Terminal(tty=True)
    show = terminal_progress(terminal)
    show("food_logs", 2000)
    assert terminal.getvalue() == "\rfood_logs: 2000 rows read"


def test_a_source_row_unaccounted_for_fails_the_report():
    from io import StringIO

    from django.core.management import CommandError, call_command

    recorder = RunRecorder.start(source="supabase")
    recorder.seen("groups", 3)
    recorder.record("groups", "imported")
    recorder.reject("groups", old_id="g-2", reason="missing owner")
    run = recorder.finish()
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("migration_report", str(run.pk), stdout=out)
    assert "UNACCOUNTED 1" in out.getvalue()
    run.refresh_from_db()
    assert run.report["entities"]["groups"]["unaccounted"] == 1
    assert run.report["ok"] is False


def test_report_of_an_unknown_run_is_refused():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError):
        call_command("migration_report", str(uuid.uuid4()))
    with pytest.raises(CommandError):
        call_command("migration_report")  # no runs yet
