"""Firebase Storage → our storage, for the files imported rows still point at.

A Firebase Storage bucket is a GCS bucket: it is read with the GCS client (which honours
STORAGE_EMULATOR_HOST). Each referenced object goes through the same upload pipeline as a
phone's upload (type check, upright, metadata stripped, variants), owned by the user whose
row referenced it, and is then linked where the URL was: the food log's image, or the
workout's progress photos.
"""

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from google.cloud import storage as gcs

from accounts.models import User
from fitness.api.errors import ApiError
from food.models import FoodLog
from migration.models import IdMap
from migration.runs import RunRecorder
from storage import services as storage_services
from storage.models import Purpose, StoredFile
from workouts.models import Workout, WorkoutPhoto

SOURCE = "firebase_storage"
ENTITY = "storage_objects"
_DOWNLOAD_URL = re.compile(r"^/v0/b/(?P<bucket>[^/]+)/o/(?P<path>[^/?]+)$")


def object_path(reference: str, bucket: str) -> str | None:
    """The object a reference names in `bucket`, from either form Firebase hands out:
    `https://firebasestorage.googleapis.com/v0/b/<bucket>/o/<path>?alt=media&token=...` (the
    path percent-encoded) or `gs://<bucket>/<path>`; None for anything else."""
    parts = urlsplit(reference.strip())
    if parts.scheme == "gs":
        if parts.netloc != bucket:
            return None
        return unquote(parts.path.lstrip("/")) or None
    if parts.scheme == "https" and parts.netloc == "firebasestorage.googleapis.com":
        match = _DOWNLOAD_URL.match(parts.path)
        if match and match["bucket"] == bucket:
            return unquote(match["path"])
    return None


def client() -> gcs.Client:
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return gcs.Client(project="firebase-emulated", credentials=AnonymousCredentials())
    return gcs.Client()


@dataclass
class Reference:
    kind: str  # "food_log" or "workout"
    row_id: UUID
    owner_id: UUID
    path: str
    position: int = 0
    # A food log that has a file already (ours, or one its owner chose since) keeps it.
    has_file: bool = False


def references(bucket: str, *, batch_size: int = 500) -> Iterator[Reference]:
    """Food logs whose `image_url` names the bucket, then the `progress_photos` the
    Supabase import kept in the workouts' legacy data."""
    logs = (
        FoodLog.objects.filter(deleted_at=None, image_url__contains=bucket)
        .values_list("id", "owner_id", "image_url", "image_id")
        .order_by("id")
    )
    for log_id, owner_id, url, image_id in logs.iterator(chunk_size=batch_size):
        path = object_path(url, bucket)
        if path:
            yield Reference("food_log", log_id, owner_id, path, has_file=image_id is not None)
    workouts = (
        IdMap.objects.filter(source_table="workouts", legacy__has_key="progress_photos")
        .values_list("new_id", "owner_id", "legacy")
        .order_by("pk")
    )
    for workout_id, owner_id, legacy in workouts.iterator(chunk_size=batch_size):
        for position, url in enumerate(legacy.get("progress_photos") or []):
            path = object_path(str(url), bucket)
            if path:
                yield Reference("workout", workout_id, owner_id, path, position)


class FirebaseStorageImporter:
    def __init__(
        self,
        *,
        bucket_name: str,
        recorder: RunRecorder,
        gcs_client: gcs.Client | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self.bucket = (gcs_client or client()).bucket(bucket_name)
        self.bucket_name = bucket_name
        self.recorder = recorder
        self.progress = progress

    def run(self) -> None:
        self.recorder.entity(ENTITY)
        for done, ref in enumerate(references(self.bucket_name), start=1):
            self.recorder.seen(ENTITY)
            self.import_reference(ref)
            if self.progress and done % 50 == 0:
                self.progress(ENTITY, done)
        self.recorder.save_progress()

    def import_reference(self, ref: Reference) -> None:
        recorder = self.recorder
        if ref.has_file:
            recorder.record(ENTITY, "unchanged")
            return
        mapped = IdMap.objects.filter(source_table=ENTITY, old_id=ref.path).first()
        if mapped is not None and mapped.owner_id != ref.owner_id:
            recorder.reject(ENTITY, old_id=ref.path, reason="object referenced by another user")
            return
        stored = StoredFile.objects.filter(pk=mapped.new_id).first() if mapped else None
        if stored is not None and self._linked(ref, stored):
            recorder.record(ENTITY, "unchanged")
            return
        if stored is None:
            blob = self.bucket.get_blob(ref.path)
            if blob is None:
                recorder.reject(ENTITY, old_id=ref.path, reason="object not found in the bucket")
                return
            if recorder.dry_run:
                recorder.record(ENTITY, "imported")
                return
            try:
                stored = self._upload(ref, blob)
            except ApiError as exc:
                recorder.reject(ENTITY, old_id=ref.path, reason=f"{exc.code}: {exc.message}")
                return
        elif recorder.dry_run:
            recorder.record(ENTITY, "updated")
            return
        self._link(ref, stored)
        recorder.record(ENTITY, "imported" if mapped is None else "updated")

    def _upload(self, ref: Reference, blob: Any) -> StoredFile:
        # Through the phone's own pipeline: what was never checked or cleaned in Firebase
        # (GPS in EXIF, sideways photos) comes out as any new upload does.
        upload = SimpleUploadedFile(
            ref.path.rsplit("/", 1)[-1],
            blob.download_as_bytes(),
            content_type=blob.content_type or "application/octet-stream",
        )
        owner = User.objects.get(pk=ref.owner_id)
        purpose = Purpose.FOOD_PHOTO if ref.kind == "food_log" else Purpose.PROGRESS_PHOTO
        stored = storage_services.upload_file(owner=owner, upload=upload, purpose=purpose)
        IdMap.objects.update_or_create(
            source_table=ENTITY,
            old_id=ref.path,
            defaults={
                "new_id": stored.pk,
                "owner_id": ref.owner_id,
                "content_hash": stored_file_hash(stored),
                "source_hash": blob.md5_hash or "",
                "legacy": {"bucket": self.bucket_name, "content_type": blob.content_type},
                "run": self.recorder.run,
            },
        )
        return stored

    @staticmethod
    def _linked(ref: Reference, stored: StoredFile) -> bool:
        if ref.kind == "food_log":
            return FoodLog.objects.filter(pk=ref.row_id, image=stored).exists()
        return WorkoutPhoto.objects.filter(workout_id=ref.row_id, file=stored).exists()

    @staticmethod
    @transaction.atomic
    def _link(ref: Reference, stored: StoredFile) -> None:
        if ref.kind == "food_log":
            # The Firebase URL stays in `image_url` (ignored while a file is linked), so the
            # row still reads back as it was imported and export_legacy can write it out.
            log = FoodLog.objects.select_for_update().get(pk=ref.row_id)
            log.image = stored
            log.save(update_fields=["image", "updated_at"])
            # The importer's own change: the log is still as imported (its source URL stays
            # in image_url), so the report keeps checking it.
            IdMap.objects.filter(source_table="food_logs", new_id=log.pk).update(
                updated_at=timezone.now()
            )
            return
        workout = Workout.objects.select_for_update().get(pk=ref.row_id)
        taken = set(workout.photos.values_list("position", flat=True))
        position = ref.position
        while position in taken:
            position += 1
        WorkoutPhoto.objects.get_or_create(
            workout=workout, file=stored, defaults={"position": position}
        )
        workout.save(update_fields=["updated_at"])


def stored_file_hash(stored: StoredFile) -> str:
    from migration.normal import digest

    return digest(read_back_file(stored))


def read_back_file(stored: StoredFile) -> dict[str, Any]:
    return {"owner": str(stored.owner_id), "sha256": stored.sha256, "size": stored.size}


def read_back(new_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    return {f.pk: read_back_file(f) for f in StoredFile.objects.filter(pk__in=new_ids)}
