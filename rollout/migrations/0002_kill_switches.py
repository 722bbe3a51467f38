from django.db import migrations

SWITCHES = {
    "ai_recognition": "Food recognition: POST /ai/food/recognize, /food/analyze, /ai/food/analyze-text.",
    "ai_chat": "The coach's messages: POST /ai/chat/{session}/msg and the chat socket.",
    "ai_recommendations": "Model recommendations; off, recommendations come from the rules.",
    "form_check": "POST /workouts/form-check.",
    "uploads": "Photo upload: POST /storage/upload, /storage/batch-upload, a photo sent to /ai/food/recognize.",
}


def drop_waffle_flag_tables(apps, schema_editor):
    # WAFFLE_FLAG_MODEL swaps waffle's Flag for rollout.Flag, but waffle's own migrations
    # create its flag tables all the same. Left behind, nothing would read them, and their
    # user foreign keys would block truncating the user table (flush, transactional tests).
    schema_editor.delete_model(apps.get_model("waffle", "Flag"))


def recreate_waffle_flag_tables(apps, schema_editor):
    schema_editor.create_model(apps.get_model("waffle", "Flag"))


def create_switches(apps, schema_editor):
    Switch = apps.get_model("waffle", "Switch")
    for name, note in SWITCHES.items():
        Switch.objects.get_or_create(name=name, defaults={"active": True, "note": note})


def remove_switches(apps, schema_editor):
    apps.get_model("waffle", "Switch").objects.filter(name__in=SWITCHES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rollout", "0001_initial"),
        ("waffle", "0004_update_everyone_nullbooleanfield"),
    ]

    operations = [
        migrations.RunPython(drop_waffle_flag_tables, recreate_waffle_flag_tables),
        migrations.RunPython(create_switches, remove_switches),
    ]
