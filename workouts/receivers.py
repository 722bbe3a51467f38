"""Workouts' side of a stored file going away (connected in WorkoutsConfig.ready, so
storage never imports workouts)."""

from django.utils import timezone

from storage.models import StoredFile
from workouts.models import Workout


def touch_workouts_of_deleted_file(sender, instance: StoredFile, **kwargs) -> None:
    # The photo links go with the file (a cascade that saves no workout); without a new
    # `updated_at` a device syncing by it would keep showing the photo.
    Workout.objects.filter(photos__file=instance).update(updated_at=timezone.now())
