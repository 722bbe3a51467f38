from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts import tokens
from accounts.models import User

# A save that touches none of these cannot change whether the user's tokens hold.
_AUTH_FIELDS = frozenset({"is_active", "token_version", "password"})


@receiver(post_save, sender=User, dispatch_uid="accounts.invalidate_auth_state")
def invalidate_auth_state(sender, instance: User, created: bool, update_fields=None, **kwargs):
    """Deactivation or a new password, made anywhere (admin, shell, services), takes effect
    for access tokens as soon as it commits, not when the cached record expires."""
    if created or (update_fields is not None and not _AUTH_FIELDS & set(update_fields)):
        return
    tokens.invalidate_auth_state(instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="accounts.invalidate_auth_state_on_delete")
def invalidate_auth_state_on_delete(sender, instance: User, **kwargs):
    """API requests read no user row (accounts.authentication): without its cached record
    a deleted user's tokens find none, and the rebuilt one says inactive."""
    tokens.invalidate_auth_state(instance.pk)
