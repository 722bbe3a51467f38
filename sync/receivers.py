"""Signals that keep sync's side tables right and tell devices about single-row writes
(saves and deletes from services, the admin, tasks); bulk writes, which send no signals,
call `fitness.offline.data_changed` themselves."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import User
from ai_assistant.models import AIConversation, ChatMessage
from fitness.offline import data_changed
from food.models import FoodLog, FoodLogShare
from storage.models import StoredFile
from sync.models import SyncTombstone
from workouts.models import Workout, WorkoutProgress, WorkoutShare

WORKOUT_TABLES = ("workouts", "exercises", "set_logs", "workout_progress")
# Saves of the user that no device shows (a login, a new password ending sessions).
_BOOKKEEPING = {"last_login", "password", "token_version", "sessions_ended_at"}


@receiver(post_delete, sender=User, dispatch_uid="sync_forget_deleted_user")
def forget_deleted_user(sender, instance: User, **kwargs: Any) -> None:
    SyncTombstone.objects.filter(user_id=instance.pk).delete()


def _readers(share_model, relation: str, row_id: Any) -> list[Any]:
    return list(share_model.objects.filter(**{relation: row_id}).values_list("user_id", flat=True))


@receiver(post_save, sender=FoodLog, dispatch_uid="sync_food_log_saved")
@receiver(post_delete, sender=FoodLog, dispatch_uid="sync_food_log_deleted")
def food_log_changed(sender, instance: FoodLog, **kwargs: Any) -> None:
    readers = _readers(FoodLogShare, "food_log_id", instance.pk)
    data_changed(tables=["food_logs"], user_ids=[instance.owner_id, *readers])


@receiver(post_save, sender=Workout, dispatch_uid="sync_workout_saved")
@receiver(post_delete, sender=Workout, dispatch_uid="sync_workout_deleted")
def workout_changed(sender, instance: Workout, **kwargs: Any) -> None:
    # Exercises and sets are written with their workout, which is saved each time.
    readers = _readers(WorkoutShare, "workout_id", instance.pk)
    data_changed(tables=WORKOUT_TABLES, user_ids=[instance.owner_id, *readers])


@receiver(post_save, sender=WorkoutProgress, dispatch_uid="sync_progress_saved")
def progress_changed(sender, instance: WorkoutProgress, **kwargs: Any) -> None:
    owner = Workout._base_manager.filter(pk=instance.workout_id).values("owner_id")
    readers = _readers(WorkoutShare, "workout_id", instance.workout_id)
    data_changed(tables=["workout_progress"], user_ids=[*owner.values_list(flat=True), *readers])


@receiver(post_delete, sender=FoodLogShare, dispatch_uid="sync_food_share_deleted")
def food_share_ended(sender, instance: FoodLogShare, **kwargs: Any) -> None:
    data_changed(tables=["food_logs"], user_ids=[instance.user_id])


@receiver(post_delete, sender=WorkoutShare, dispatch_uid="sync_workout_share_deleted")
def workout_share_ended(sender, instance: WorkoutShare, **kwargs: Any) -> None:
    data_changed(tables=WORKOUT_TABLES, user_ids=[instance.user_id])


@receiver(post_save, sender=StoredFile, dispatch_uid="sync_file_saved")
@receiver(post_delete, sender=StoredFile, dispatch_uid="sync_file_deleted")
def file_changed(sender, instance: StoredFile, **kwargs: Any) -> None:
    data_changed(tables=["stored_files"], user_ids=[instance.owner_id])


@receiver(post_save, sender=AIConversation, dispatch_uid="sync_conversation_saved")
@receiver(post_delete, sender=AIConversation, dispatch_uid="sync_conversation_deleted")
def conversation_changed(sender, instance: AIConversation, **kwargs: Any) -> None:
    data_changed(tables=["conversations", "chat_messages"], user_ids=[instance.owner_id])


@receiver(post_save, sender=ChatMessage, dispatch_uid="sync_message_saved")
def message_changed(sender, instance: ChatMessage, **kwargs: Any) -> None:
    if ChatMessage.conversation.is_cached(instance):
        owners = [instance.conversation.owner_id]
    else:
        owner = AIConversation.objects.filter(pk=instance.conversation_id).values("owner_id")
        owners = owner.values_list(flat=True)
    data_changed(tables=["chat_messages"], user_ids=owners)


@receiver(post_save, sender=User, dispatch_uid="sync_user_saved")
def profile_changed(sender, instance: User, update_fields=None, **kwargs: Any) -> None:
    if update_fields and set(update_fields) <= _BOOKKEEPING:
        return
    data_changed(tables=["profile", "settings"], user_ids=[instance.pk])
