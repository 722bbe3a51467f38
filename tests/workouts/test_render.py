"""The workout list renders rows without the serializer (workouts.api.serializers.render_workout);
it must answer exactly the bytes `WorkoutSerializer` would."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from tests.conftest import client_for
from tests.factories import UserFactory
from tests.storage.factories import stored_file
from tests.workouts.factories import create_workout, exercise_payload
from workouts import selectors
from workouts.api import serializers as s
from workouts.models import WorkoutPhoto, WorkoutShare

pytestmark = pytest.mark.django_db

URL = "/api/v1/workouts"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def varied_workouts(owner, reader, other_reader):
    """Every kind of value: estimates, units, set logs, nulls, photos, readers, JSON."""
    lifted = create_workout(
        owner,
        name="Jambes “lourdes” 🦵",
        duration=75,
        notes="",
        completed=True,
        completed_at=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC).isoformat(),
        created_at=datetime(2026, 1, 2, 2, 0, tzinfo=UTC).isoformat(),
        ai_form_check={"score": 0.8125, "tiny": 1e-07, "notes": ["knees <out>"]},
        exercises=[
            exercise_payload(
                "Squat",
                weight={"value": 225, "unit": "lb"},
                set_logs=[
                    {"reps": 5, "weight": {"value": 225, "unit": "lb"}, "rpe": 8.5},
                    {"reps": 3, "weight": {"value": 102.5, "unit": "kg"}, "completed": True},
                    {"reps": 8},
                ],
                notes="belt",
                completed=True,
            ),
            exercise_payload(
                "Run", duration=1200, distance=5000.5, weight={"value": 0, "unit": "g"}
            ),
            exercise_payload("Plank"),
        ],
    )
    for position in range(2):
        WorkoutPhoto.objects.create(workout=lifted, file=stored_file(owner), position=position)
    WorkoutShare.objects.create(workout=lifted, user=other_reader)
    WorkoutShare.objects.create(workout=lifted, user=reader)
    given = create_workout(owner, type="cardio", calories_burned=321, exercises=[])
    WorkoutShare.objects.create(workout=given, user=reader)
    create_workout(owner, duration=None)


def serializer_page_bytes(viewer, *, include_shared: bool) -> bytes:
    request = APIRequestFactory().get(URL)
    request.user = viewer
    page = list(selectors.list_workouts(user=viewer, include_shared=include_shared))
    context = {"request": request, "photo_urls": s.photo_urls_for(page, request)}
    items = s.WorkoutSerializer(page, many=True, context=context).data
    return JSONRenderer().render({"items": items, "total": len(page), "page": 1, "hasMore": False})


@pytest.mark.parametrize("as_reader", [False, True], ids=["owner", "reader"])
def test_list_answers_the_serializers_bytes(as_reader):
    owner, reader, other_reader = UserFactory(), UserFactory(display_name=""), UserFactory()
    varied_workouts(owner, reader, other_reader)
    viewer = reader if as_reader else owner

    response = client_for(viewer).get(
        URL, {"page_size": 100, "include_shared": str(as_reader).lower()}
    )

    assert response.status_code == 200
    assert response.content == serializer_page_bytes(viewer, include_shared=as_reader)
    assert b"/storage/signed/" in response.content
    assert (b'"owner":{' in response.content) is as_reader


def test_list_reads_a_fixed_number_of_statements_whatever_the_page_holds():
    owner, reader = UserFactory(), UserFactory()
    client = client_for(owner)
    client.get(URL)  # the auth record is cached from here on

    def statements() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"page_size": 100}).status_code == 200
        return len(queries)

    varied_workouts(owner, reader, UserFactory())
    few = statements()
    for _ in range(5):
        varied_workouts(owner, reader, UserFactory())

    assert statements() == few
