"""Tombstones are pruned after SYNC_TOMBSTONE_RETENTION_DAYS; a device that last pulled
before the pruned ones were written cannot learn those deletions from them, so it gets
everything again under WatermelonDB's replacement strategy and ends equal to the server."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from food.models import FoodLog
from sync import services
from sync.models import SyncHorizon, SyncTombstone
from tests.food.factories import FoodLogFactory
from tests.sync.helpers import Replica

pytestmark = pytest.mark.django_db(transaction=True)


def _age_tombstones(days: int) -> None:
    SyncTombstone.objects.update(created_at=timezone.now() - timedelta(days=days))


def test_old_tombstones_go_one_run_after_their_horizon_is_published(user):
    doomed = FoodLogFactory(owner=user)
    doomed.delete()
    _age_tombstones(settings.SYNC_TOMBSTONE_RETENTION_DAYS + 1)
    fresh = FoodLogFactory(owner=user)
    fresh.delete()
    old_version = SyncTombstone.objects.order_by("sync_version").first().sync_version

    assert services.prune_tombstones() == 0
    assert SyncHorizon.objects.get().pruned_through == old_version
    assert SyncTombstone.objects.count() == 2

    assert services.prune_tombstones() == 1
    assert SyncTombstone.objects.get().sync_version > old_version


def test_a_device_behind_the_horizon_is_replaced_and_ends_equal_to_the_server(auth_client, user):
    kept = FoodLogFactory(owner=user)
    doomed = FoodLogFactory(owner=user)
    doomed_id = str(doomed.pk)
    behind, current = Replica(), Replica()
    behind.sync(auth_client)
    FoodLog.objects.filter(pk=doomed.pk).delete()
    current.sync(auth_client)
    _age_tombstones(settings.SYNC_TOMBSTONE_RETENTION_DAYS + 1)
    services.prune_tombstones()
    services.prune_tombstones()
    assert not SyncTombstone.objects.filter(row_id__in=[doomed_id, doomed_id.replace("-", "")])

    pulled = behind.sync(auth_client)

    assert pulled["experimentalStrategy"] == "replacement"
    logs = pulled["changes"]["food_logs"]
    assert logs["created"] == [] and logs["deleted"] == []
    assert [record["id"] for record in logs["updated"]] == [str(kept.pk)]
    assert behind.ids("food_logs") == {str(kept.pk)}
    assert behind.ids("profile") == {str(user.pk)}
    # Once replaced, the device is incremental again; so is one that was never behind.
    again = behind.sync(auth_client)
    assert "experimentalStrategy" not in again
    assert again["changes"]["food_logs"]["updated"] == []
    assert "experimentalStrategy" not in current.sync(auth_client)


def test_the_pruning_runs_daily_from_celery_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["sync-prune-tombstones"]
    assert entry["task"] == "sync.tasks.prune_tombstones"
    assert entry["schedule"] == timedelta(days=1)
