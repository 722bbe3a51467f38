"""What a data export holds, and the zip it is written as.

One JSON file per table (`tables/<name>.json`, the rows as stored, every column but the
secrets) and the user's photos as files (`files/<file id>.<ext>`, the stored originals), plus
`README.txt`. A table with a foreign key to the user is either listed in TABLES or, with
the reason, in NOT_EXPORTED; `tests/accounts/test_api_data_export.py` fails on one that is
in neither, so a new table cannot be left out unnoticed.

The tables are read here, across the apps, because the export is by definition every table
at once and as stored (not any app's API shape); nothing here writes.
"""

import json
import mimetypes
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from django.apps import apps
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from accounts.models import User


@dataclass(frozen=True)
class Table:
    name: str
    model: str  # app_label.ModelName
    # Paths from the row to the user; a row is the user's when any of them is.
    paths: tuple[str, ...]
    # Columns never written out: credentials and internal bookkeeping.
    omit: tuple[str, ...] = ()
    exclude: Q | None = None

    def rows(self, user: User) -> list[dict]:
        query = Q()
        for path in self.paths:
            query |= Q(**{path: user.pk})
        rows = apps.get_model(self.model)._base_manager.filter(query)
        if self.exclude is not None:
            rows = rows.exclude(self.exclude)
        return [
            {key: value for key, value in row.items() if key not in self.omit}
            for row in rows.order_by("pk").values()
        ]


TABLES: tuple[Table, ...] = (
    Table(
        "account",
        "accounts.User",
        ("pk",),
        omit=("password", "token_version", "sessions_ended_at", "is_superuser"),
    ),
    Table("food_logs", "food.FoodLog", ("owner",)),
    Table("food_log_tags", "food.FoodLogTag", ("food_log__owner",)),
    # Both ways: whom the user shared with, and what was shared with the user.
    Table("food_log_shares", "food.FoodLogShare", ("food_log__owner", "user")),
    Table("workouts", "workouts.Workout", ("owner",)),
    Table("exercises", "workouts.Exercise", ("workout__owner",)),
    Table("exercise_sets", "workouts.ExerciseSet", ("exercise__workout__owner",)),
    Table("workout_progress", "workouts.WorkoutProgress", ("workout__owner",)),
    Table("workout_photos", "workouts.WorkoutPhoto", ("workout__owner",)),
    Table("workout_shares", "workouts.WorkoutShare", ("workout__owner", "user")),
    Table(
        "files",
        "storage.StoredFile",
        ("owner",),
        omit=("key",),
        exclude=Q(purpose="data_export"),
    ),
    Table("ai_conversations", "ai_assistant.AIConversation", ("owner",)),
    Table("ai_chat_messages", "ai_assistant.ChatMessage", ("conversation__owner",)),
    Table("ai_recognition_jobs", "ai_assistant.RecognitionJob", ("owner",)),
    Table("ai_usage", "ai_assistant.AIUsage", ("user",)),
    Table("connections", "social.Connection", ("requester", "addressee")),
    Table("blocks", "social.Block", ("blocker",)),
    Table("group_memberships", "social.GroupMembership", ("user",)),
    Table("challenge_participations", "social.ChallengeParticipant", ("user",)),
    Table("leaderboard_entries", "social.LeaderboardEntry", ("user",)),
    Table("achievements", "social.Achievement", ("user",)),
)

# Foreign keys to the user whose rows are not exported, and why.
NOT_EXPORTED: dict[str, str] = {
    "rollout.ChangeRecord.actor": "the audit trail of a staff member's admin changes, not data "
    "the user gave",
    "accounts.TokenFamily.user": "sessions: security records, not data the user gave",
    "accounts.PasswordResetCode.user": "a credential",
    "accounts.DataExport.owner": "the exports themselves",
    "token_blacklist.OutstandingToken.user": "refresh tokens: credentials",
    "otp_totp.TOTPDevice.user": "a staff two-factor secret",
    "admin.LogEntry.user": "staff actions in the admin, not the user's data",
    "migration.IdMap.owner": "the migration's bookkeeping (old id → new id)",
    "social.Block.blocked": "someone else's decision to block the user",
    "social.Group.created_by": "the group belongs to its members (memberships are exported)",
    "social.Challenge.created_by": "the challenge belongs to its group",
    "social.GroupMembership.invited_by": "someone else's membership",
    "fitness.LiveRowCount.user": "counts derived from the user's food logs and workouts, "
    "which are exported",
}


def tables(user: User) -> dict[str, list[dict]]:
    return {table.name: table.rows(user) for table in TABLES}


def _photos(user: User) -> Iterator[tuple[str, str]]:
    """(zip name, storage key) of each stored original of the user (exports aside)."""
    files = apps.get_model("storage.StoredFile")._base_manager.filter(owner=user)
    for stored in files.exclude(purpose="data_export").order_by("created_at", "pk"):
        extension = mimetypes.guess_extension(stored.content_type) or ""
        yield f"files/{stored.pk}{extension}", stored.key


_README = """Your Future Fitness data, as of {when} (UTC).

tables/<name>.json  every row of each table that is yours, as stored (JSON arrays of
                    objects; measurements in metric, times in UTC)
files/<id>.<ext>    your photos, as stored (metadata such as location already removed at
                    upload); <id> is the `id` in tables/files.json
"""


def write_zip(user: User, out: IO[bytes]) -> None:
    """Writes the export of `user` into the binary file `out`."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _README.format(when=timezone.now().isoformat()))
        for name, rows in tables(user).items():
            archive.writestr(
                f"tables/{name}.json", json.dumps(rows, cls=DjangoJSONEncoder, indent=1)
            )
        for name, key in _photos(user):
            if not default_storage.exists(key):
                continue  # deleted while the export ran
            entry_info = zipfile.ZipInfo(name, date_time=timezone.now().timetuple()[:6])
            # Stored, not deflated: the photos are JPEG/PNG/WebP, compressed already.
            entry_info.compress_type = zipfile.ZIP_STORED
            with default_storage.open(key, "rb") as blob, archive.open(entry_info, "w") as entry:
                for chunk in iter(lambda: blob.read(1024 * 1024), b""):
                    entry.write(chunk)
