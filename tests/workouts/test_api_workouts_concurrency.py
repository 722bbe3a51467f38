"""Two devices sending the same new workout at the same moment (PostgreSQL only)."""

import threading
import uuid

import pytest
from django.db import connection, connections

from tests.conftest import client_for
from tests.workouts.factories import workout_payload
from workouts.models import Exercise, Workout


@pytest.mark.django_db(transaction=True)
def test_create_same_id_concurrently_stores_one_workout(user):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs a real server")
    workout_id = str(uuid.uuid4())
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def post() -> None:
        try:
            client = client_for(user)
            barrier.wait()
            response = client.post(
                "/api/v1/workouts", workout_payload(id=workout_id), format="json"
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 200, 200, 201]
    assert Workout.objects.filter(pk=workout_id).count() == 1
    assert Exercise.objects.filter(workout_id=workout_id).count() == 2
