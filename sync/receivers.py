from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.models import User
from sync.models import SyncTombstone


@receiver(post_delete, sender=User, dispatch_uid="sync_forget_deleted_user")
def forget_deleted_user(sender, instance: User, **kwargs) -> None:
    SyncTombstone.objects.filter(user_id=instance.pk).delete()
