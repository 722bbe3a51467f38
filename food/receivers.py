"""Food's side of a stored file going away (connected in FoodConfig.ready, so storage
never imports food)."""

from django.utils import timezone

from food.models import FoodLog
from storage.models import StoredFile


def touch_logs_of_deleted_file(sender, instance: StoredFile, **kwargs) -> None:
    # The foreign key's SET_NULL is a bare UPDATE of image_id; without a new `updated_at`
    # a device syncing by it would never learn that the photo is gone.
    FoodLog.objects.filter(image=instance).update(updated_at=timezone.now())
