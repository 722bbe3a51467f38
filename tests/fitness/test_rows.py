"""`fitness.rows`' statements compiled once (`OwnerPages`, `ChildRows`) give what the ORM
gives for the same rows, for every owner, offset and list of parents."""

from contextlib import contextmanager
from datetime import timedelta
from unittest import mock
from uuid import uuid4

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from fitness import rows
from fitness.live_counts import live_count
from food import selectors as food
from food.models import FoodLog
from tests.factories import UserFactory
from tests.food.factories import FoodLogFactory, FoodLogShareFactory, FoodLogTagFactory
from tests.workouts.factories import create_workout
from workouts import selectors as workouts
from workouts.models import ExerciseSet

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite reads these pages through `page`"
    ),
]


def _orm_food_page(user, offset: int, size: int) -> rows.RowPage:
    return rows.page(
        food.list_food_logs(user=user).prefetch_related(None).select_related(None),
        fields=food.PAGE_FIELDS,
        children=food.PAGE_CHILDREN,
        offset=offset,
        size=size,
        total=live_count(user, "food_logs"),
    )


@pytest.fixture
def two_owners():
    first, second = UserFactory(), UserFactory()
    now = timezone.now()
    for n in range(7):
        log = FoodLogFactory(
            owner=first,
            timestamp=now - timedelta(hours=n),
            ai_analysis={"items": [{"name": "egg", "grams": 50.5}]} if n % 2 else None,
            metadata={"source": "bench", "n": n},
        )
        FoodLogTagFactory(food_log=log, name=f"tag-{n}")
        FoodLogTagFactory(food_log=log, name="again")
        FoodLogShareFactory(food_log=log, user=second)
    FoodLogFactory(owner=first, deleted_at=now)
    for n in range(3):
        FoodLogFactory(owner=second, timestamp=now - timedelta(minutes=n))
    return first, second


@pytest.mark.parametrize(("offset", "size"), [(0, 3), (3, 3), (6, 3), (0, 50), (7, 3), (40, 5)])
def test_a_page_equals_the_orm_page_for_each_owner(two_owners, offset, size):
    for owner in two_owners:
        ours = food.all_food_logs_page(owner, offset=offset, size=size)

        assert ours == _orm_food_page(owner, offset, size)
    assert food.all_food_logs_page(two_owners[0], offset=0, size=50).total == 7


def test_a_user_with_nothing_gets_an_empty_page():
    nobody = UserFactory()

    assert food.all_food_logs_page(nobody, offset=0, size=50) == rows.RowPage([], 0, False)
    assert food.all_food_logs_page(nobody, offset=50, size=50) == rows.RowPage([], 0, False)


@contextmanager
def _statements_only(assert_num_queries, count: int):
    """Runs `count` statements and compiles none (SQLCompiler.as_sql is never called)."""
    compiled = mock.Mock(wraps=SQLCompiler.as_sql)
    with (
        mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=compiled),
        assert_num_queries(count),
    ):
        yield
    assert compiled.call_count == 0


def test_the_statement_is_compiled_once_then_only_executed(two_owners, django_assert_num_queries):
    first, second = two_owners
    food.all_food_logs_page(first, offset=0, size=5)

    with _statements_only(django_assert_num_queries, 1):
        page = food.all_food_logs_page(second, offset=0, size=5)

    assert [row["owner_id"] for row in page.rows] == [second.pk] * 3
    assert all(isinstance(row["timestamp"], type(timezone.now())) for row in page.rows)


def test_the_workout_page_is_three_statements_compiled_once(
    user, other_user, django_assert_num_queries
):
    create_workout(user)
    create_workout(other_user)
    workouts.all_workouts_page(user, offset=0, size=5)

    with _statements_only(django_assert_num_queries, 3):
        page = workouts.all_workouts_page(other_user, offset=0, size=5)

    assert [len(row["exercises"]) for row in page.rows] == [2]


def test_the_workout_page_equals_the_orm_page(user, other_user):
    for n in range(4):
        create_workout(user, name=f"Workout {n}")
    create_workout(other_user, name="Theirs")

    for offset in (0, 2, 4):
        ours = workouts.all_workouts_page(user, offset=offset, size=2)
        orm = workouts.workout_page(workouts.list_workouts(user=user), offset=offset, size=2)

        assert ours == orm
        assert (len(ours.rows), ours.total, ours.has_more) == (
            min(2, 4 - offset),
            4,
            offset == 0,
        )
        assert all(len(row["exercises"]) == 2 for row in ours.rows)


def test_rows_not_filtered_by_owner_are_refused():
    unowned = rows.OwnerPages(
        lambda owner: FoodLog.objects.order_by("-timestamp"),
        counted=lambda owner: live_count(owner, "food_logs"),
        fields=food.PAGE_FIELDS,
        children=food.PAGE_CHILDREN,
    )

    with pytest.raises(ImproperlyConfigured, match="takes no owner"):
        unowned.page(UserFactory(), offset=0, size=5)


def test_child_rows_equal_the_orm_rows_for_any_parents(user, other_user):
    mine = [
        create_workout(
            user,
            exercises=[
                {"name": f"Squat {n}", "set_logs": [{"reps": 5 + n}, {"reps": 3, "rpe": 8}]},
                {"name": "Row", "sets": 3, "reps": 8},
            ],
        )
        for n in range(3)
    ]
    theirs = create_workout(other_user)
    sets = ExerciseSet.objects.order_by("exercise_id", "position").values(*workouts.SET_FIELDS)

    for ids in ([mine[0].pk], [w.pk for w in mine], [mine[2].pk, theirs.pk], [uuid4()]):
        compiled = workouts._SET_LOGS.of(ids)

        assert compiled == rows.grouped(sets.filter(exercise__workout_id__in=ids), "exercise_id")
    assert sum(map(len, workouts._SET_LOGS.of([w.pk for w in mine]).values())) == 6
