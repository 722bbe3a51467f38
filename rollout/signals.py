"""Drops the cached values and minimum versions when they change, once the change is
committed; waffle does the same for its flags and switches. The cache is Redis, shared by
every process, so the next request anywhere reads the new state."""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from rollout.models import ConfigValue, MinAppVersion
from rollout.selectors import MINIMUMS_KEY, VALUES_KEY


@receiver([post_save, post_delete], sender=ConfigValue)
def _values_changed(**kwargs) -> None:
    transaction.on_commit(lambda: cache.delete(VALUES_KEY))


@receiver([post_save, post_delete], sender=MinAppVersion)
def _minimums_changed(**kwargs) -> None:
    transaction.on_commit(lambda: cache.delete(MINIMUMS_KEY))
