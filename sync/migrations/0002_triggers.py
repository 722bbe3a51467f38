from django.db import migrations

from sync.database import drop_triggers, install_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0001_initial"),
        ("accounts", "0008_user_sync_version"),
        ("ai_assistant", "0005_sync_version"),
        ("food", "0003_sync_version"),
        ("storage", "0003_sync_version"),
        ("workouts", "0005_sync_version"),
    ]

    operations = [migrations.RunPython(install_triggers, drop_triggers)]
