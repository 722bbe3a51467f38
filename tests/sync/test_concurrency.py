"""Change markers under concurrency, against PostgreSQL: a device that applies every pull
ends equal to the server, even when writes commit while pulls run."""

import random
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from food.models import FoodLog
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.sync.helpers import Replica

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
    ),
]


def _in_thread(target, *args) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_write_committed_after_a_pull_began_reaches_the_next_pull():
    user = UserFactory()
    client = client_for(user)
    device = Replica()
    device.sync(client)
    written, pulled = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction.atomic():
            FoodLog.objects.create(owner=user, name="late", calories=1)
            written.set()
            # Held open until a pull has run without seeing the row.
            assert pulled.wait(timeout=10)

    thread = _in_thread(writer)
    assert written.wait(timeout=10)
    missed = device.sync(client)
    pulled.set()
    thread.join(timeout=10)

    assert missed["changes"]["food_logs"]["updated"] == []
    caught = device.sync(client)
    assert [r["name"] for r in caught["changes"]["food_logs"]["updated"]] == ["late"]


def test_device_applying_every_pull_ends_equal_to_the_server_under_concurrent_writes():
    user = UserFactory()
    deadline = time.monotonic() + 3
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(150):
            if time.monotonic() > deadline:
                break
            try:
                with transaction.atomic():
                    mine = list(FoodLog.objects.for_owner(user).values_list("pk", flat=True)[:20])
                    action = rng.random()
                    if action < 0.5 or not mine:
                        FoodLog.objects.create(
                            owner=user, name=f"w{seed}", calories=rng.randint(0, 900)
                        )
                    elif action < 0.8:
                        FoodLog.objects.filter(pk=rng.choice(mine)).update(
                            calories=rng.randint(0, 900), updated_at=timezone.now()
                        )
                    elif action < 0.9:
                        FoodLog.objects.filter(pk=rng.choice(mine)).update(
                            deleted_at=timezone.now()
                        )
                    else:
                        FoodLog.objects.filter(pk=rng.choice(mine)).delete()
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
                return

    device = Replica()
    client = client_for(user)
    threads = [_in_thread(writer, seed) for seed in range(3)]

    def puller() -> None:
        pulls = 0
        while not stop.is_set() and pulls < 200:
            device.sync(client)
            pulls += 1

    pulling = _in_thread(puller)
    for thread in threads:
        thread.join(timeout=30)
    stop.set()
    pulling.join(timeout=30)
    device.sync(client)

    assert not errors
    fresh = Replica()
    fresh.sync(client_for(user))
    assert device.tables["food_logs"] == fresh.tables["food_logs"]
    assert len(fresh.tables["food_logs"]) == FoodLog.objects.for_owner(user).count()


def _commit_elsewhere() -> None:
    """A transaction of another session that takes an id and commits, as any other
    database of the cluster (another test run, another tenant) does all the time."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")
    finally:
        other.close()


@pytest.mark.django_db(transaction=False)
def test_a_pull_inside_a_writing_transaction_keeps_its_own_writes_above_the_cut_off(user):
    # The test's transaction never commits, so its writes and the pulls share one id; a
    # transaction that ends meanwhile moves the snapshot's xmax past it (the flaky
    # test_stored_files_arrive_with_signed_urls_and_leave_when_deleted).
    client = client_for(user)
    doomed = FoodLog.objects.create(owner=user, name="doomed", calories=1)
    doomed_id = str(doomed.pk)
    _commit_elsewhere()
    device = Replica()
    device.sync(client)
    assert device.ids("food_logs") == {doomed_id}

    doomed.delete()
    _commit_elsewhere()
    pulled = device.sync(client)

    assert pulled["changes"]["food_logs"]["deleted"] == [doomed_id]
