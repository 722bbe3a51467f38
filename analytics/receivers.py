"""Deleting an account deletes its events (they carry no foreign key to join on)."""

from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver

from analytics import services


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="analytics_user_deleted")
def delete_user_events(sender, instance, **kwargs) -> None:
    services.delete_events_of(user_id=instance.pk)
