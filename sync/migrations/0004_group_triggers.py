from django.db import migrations

from sync.database import drop_group_triggers, install_group_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0003_social_triggers"),
    ]

    operations = [migrations.RunPython(install_group_triggers, drop_group_triggers)]
