# Three steps because every existing user needs a distinct code before the column can
# be unique: add it nullable, fill it row by row, then make it unique and required.
from django.db import migrations, models

import accounts.models


def fill_invite_codes(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    taken = set()
    for user in User.objects.filter(invite_code__isnull=True).only("pk").iterator():
        code = accounts.models.new_invite_code()
        while code in taken:
            code = accounts.models.new_invite_code()
        taken.add(code)
        User.objects.filter(pk=user.pk).update(invite_code=code)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_token_version_families_login_attempts")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="invite_code",
            field=models.CharField(max_length=16, null=True),
        ),
        migrations.RunPython(fill_invite_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="invite_code",
            field=models.CharField(
                default=accounts.models.new_invite_code, max_length=16, unique=True
            ),
        ),
    ]
