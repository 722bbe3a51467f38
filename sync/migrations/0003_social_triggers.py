from django.db import migrations

from sync.database import drop_social_triggers, install_social_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0002_triggers"),
        ("social", "0002_sync_version"),
    ]

    operations = [migrations.RunPython(install_social_triggers, drop_social_triggers)]
