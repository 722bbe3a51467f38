"""Signals that keep sync's side tables right and tell devices about single-row writes
(saves and deletes from services, the admin, tasks); bulk writes, which send no signals,
call `fitness.offline.data_changed` themselves."""

from typing import Any

from django.db.models.signals import post_delete, post_init, post_save
from django.dispatch import receiver

from accounts.models import User
from ai_assistant.models import AIConversation, ChatMessage
from fitness.offline import GROUP_TABLES, data_changed
from food.models import FoodLog, FoodLogShare
from social import selectors as social
from social.models import Block, Challenge, Connection, Group, GroupMembership, MemberStatus
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


@receiver(post_init, sender=Workout, dispatch_uid="sync_workout_loaded")
def remember_workout_group(sender, instance: Workout, **kwargs: Any) -> None:
    # The group a workout was loaded with: when a save moves it away, that group's members
    # lose it and hear of it too. Read from __dict__ so a deferred column stays unloaded.
    instance._sync_loaded_group_id = instance.__dict__.get("group_id")


@receiver(post_save, sender=Workout, dispatch_uid="sync_workout_saved")
@receiver(post_delete, sender=Workout, dispatch_uid="sync_workout_deleted")
def workout_changed(sender, instance: Workout, **kwargs: Any) -> None:
    # Exercises and sets are written with their workout, which is saved each time.
    readers = _readers(WorkoutShare, "workout_id", instance.pk)
    members = social.group_workout_readers(
        owner_id=instance.owner_id,
        group_ids=(instance.group_id, getattr(instance, "_sync_loaded_group_id", None)),
    )
    instance._sync_loaded_group_id = instance.group_id
    data_changed(tables=WORKOUT_TABLES, user_ids=[instance.owner_id, *readers, *members])


@receiver(post_save, sender=WorkoutProgress, dispatch_uid="sync_progress_saved")
def progress_changed(sender, instance: WorkoutProgress, **kwargs: Any) -> None:
    workout = Workout._base_manager.filter(pk=instance.workout_id).values("owner_id", "group_id")
    owner = workout.first() or {"owner_id": None, "group_id": None}
    readers = _readers(WorkoutShare, "workout_id", instance.workout_id)
    members = social.group_workout_readers(
        owner_id=owner["owner_id"], group_ids=[owner["group_id"]]
    )
    data_changed(tables=["workout_progress"], user_ids=[owner["owner_id"], *readers, *members])


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
        owners = AIConversation.objects.filter(pk=instance.conversation_id).values_list(
            "owner_id", flat=True
        )
    data_changed(tables=["chat_messages"], user_ids=owners)


@receiver(post_save, sender=User, dispatch_uid="sync_user_saved")
def profile_changed(sender, instance: User, update_fields=None, **kwargs: Any) -> None:
    if update_fields and set(update_fields) <= _BOOKKEEPING:
        return
    data_changed(tables=["profile", "settings"], user_ids=[instance.pk])


@receiver(post_save, sender=Connection, dispatch_uid="sync_connection_saved")
@receiver(post_delete, sender=Connection, dispatch_uid="sync_connection_deleted")
def connection_changed(sender, instance: Connection, **kwargs: Any) -> None:
    data_changed(tables=["connections"], user_ids=[instance.requester_id, instance.addressee_id])


@receiver(post_save, sender=Group, dispatch_uid="sync_group_saved")
def group_changed(sender, instance: Group, **kwargs: Any) -> None:
    # A deleted group needs no receiver: its memberships go first, each with its event.
    data_changed(tables=GROUP_TABLES, user_ids=social.active_member_ids(instance.pk))


@receiver(post_save, sender=GroupMembership, dispatch_uid="sync_membership_saved")
@receiver(post_delete, sender=GroupMembership, dispatch_uid="sync_membership_deleted")
def membership_changed(sender, instance: GroupMembership, **kwargs: Any) -> None:
    # Invitations and requests are read by the person alone; an active membership (or
    # one that ended while active) by every member.
    active = instance.status == MemberStatus.ACTIVE
    members = social.active_member_ids(instance.group_id) if active else []
    data_changed(tables=GROUP_TABLES, user_ids=[instance.user_id, *members])


@receiver(post_save, sender=Challenge, dispatch_uid="sync_challenge_saved")
@receiver(post_delete, sender=Challenge, dispatch_uid="sync_challenge_deleted")
def challenge_changed(sender, instance: Challenge, **kwargs: Any) -> None:
    data_changed(tables=["challenges"], user_ids=social.active_member_ids(instance.group_id))


@receiver(post_save, sender=Block, dispatch_uid="sync_block_saved")
@receiver(post_delete, sender=Block, dispatch_uid="sync_block_deleted")
def block_changed(sender, instance: Block, **kwargs: Any) -> None:
    # Each loses (or regains) the other's workouts in the groups they share.
    data_changed(tables=GROUP_TABLES, user_ids=[instance.blocker_id, instance.blocked_id])
