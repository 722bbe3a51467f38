import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from food.models import FoodLog
from migration.mapping import DEFAULT_MAPPING, MappingError, load_mapping
from migration.models import MigrationRun

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_is_a_valid_mapping(tmp_path):
    section = README.read_text().split("## Migration", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "mapping.yaml"
    path.write_text(example)
    mapping = load_mapping(path)
    assert "groups" not in mapping
    assert mapping["food_logs"]["owner"] == {"column": "owner_uid", "by": "firebase_uid"}
    assert mapping["profiles"]["fields"]["name"] == "full_name"


def test_without_a_file_the_mapping_is_the_plans_schema():
    assert load_mapping() == DEFAULT_MAPPING
    assert DEFAULT_MAPPING["food_logs"]["table"] == "public.food_logs"


@pytest.mark.parametrize(
    "content",
    [
        "nonsense: {table: x, id: id}",
        "food_logs: {owner: {column: user_id, by: phone}}",
        "food_logs: [1, 2]",
        "food_logs: {table: x, id: id, owner: {by: email}}",
        "- : :",
    ],
)
def test_a_bad_mapping_is_refused(tmp_path, content):
    path = tmp_path / "mapping.yaml"
    path.write_text(content)
    with pytest.raises(MappingError):
        load_mapping(path)


@pytest.mark.django_db
def test_a_bad_mapping_stops_the_command_before_any_run(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text("{not json")
    with pytest.raises(CommandError):
        call_command(
            "import_supabase", "--database-url", "postgresql://x/y", "--mapping", str(path)
        )
    assert not MigrationRun.objects.exists()


def test_a_mapped_table_with_owners_by_email(standin, tmp_path):
    standin.add_auth_user(email="ana@example.com")
    standin.execute(
        "CREATE TABLE public.meals (id TEXT PRIMARY KEY, owner_email TEXT, title TEXT, "
        "kcal INTEGER, eaten_at TIMESTAMP, mood TEXT)"
    )
    standin.execute(
        "INSERT INTO meals VALUES ('m-1', 'ANA@example.com', 'Rice', 200, '2026-01-05 12:00', "
        "'happy'), ('m-2', 'ghost@example.com', 'Tea', 5, '2026-01-05 13:00', NULL)"
    )
    path = tmp_path / "mapping.json"
    path.write_text(
        json.dumps(
            {
                "food_logs": {
                    "table": "public.meals",
                    "id": "id",
                    "owner": {"column": "owner_email", "by": "email"},
                    "fields": {"name": "title", "calories": "kcal", "timestamp": "eaten_at"},
                },
                "workouts": None,
                "groups": None,
                "ai_conversations": None,
                "profiles": None,
            }
        )
    )
    out = StringIO()
    call_command(
        "import_supabase", "--database-url", standin.url, "--mapping", str(path), stdout=out
    )
    run = MigrationRun.objects.get()
    assert run.counts["food_logs"]["reasons"] == {"owner not imported": 1}
    log = FoodLog.objects.get()
    assert log.name == "Rice"
    assert log.timestamp.isoformat() == "2026-01-05T12:00:00+00:00"
    assert log.metadata == {"legacy": {"mood": "happy"}}
    from migration.ids import legacy_uuid

    assert log.pk == legacy_uuid("food_logs", "m-1")  # a text id becomes a deterministic uuid
