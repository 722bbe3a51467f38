import threading
import uuid

import pytest
from django.db import connection, connections

from food.models import FoodLog
from tests.conftest import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs a database that serves threads"
    ),
]


def test_parallel_retries_of_one_batch_store_each_log_once(user):
    items = [{"id": str(uuid.uuid4()), "name": f"n{n}", "calories": n} for n in range(200)]
    barrier = threading.Barrier(4)
    results: list = []

    def send() -> None:
        client = client_for(user)
        barrier.wait()
        try:
            results.append(client.post("/api/v1/food/logs/batch", {"items": items}, format="json"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [response.status_code for response in results] == [201] * 4
    assert sum(response.json()["created"] for response in results) == 200
    assert FoodLog.objects.filter(owner=user).count() == 200
