"""Workouts built the way the API builds them: payload → serializer → service."""

from typing import Any

from workouts import services
from workouts.api.serializers import WorkoutCreateSerializer
from workouts.models import Workout


def exercise_payload(name: str = "Bench press", **fields: Any) -> dict:
    return {"name": name, **fields}


def workout_payload(**fields: Any) -> dict:
    payload = {
        "name": "Push day",
        "type": "strength",
        "duration": 60,
        "exercises": [
            exercise_payload("Bench press", sets=3, reps=5, weight={"value": 100, "unit": "kg"}),
            exercise_payload("Dips", sets=3, reps=10),
        ],
    }
    payload.update(fields)
    return payload


def create_workout(owner, **fields: Any) -> Workout:
    data = WorkoutCreateSerializer(data=workout_payload(**fields))
    data.is_valid(raise_exception=True)
    workout, _ = services.create_workout(owner=owner, data=data.validated_data)
    return workout
