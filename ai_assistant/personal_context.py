"""What the coach knows about the caller: compact numbers from their own profile, food logs
and workouts, read through the owning apps' selectors (each filters by owner, so another
user's rows cannot get in).

`build_snapshot` gathers the numbers once per request (about ten queries, none of which
grows with the user's history); `facts` turns them into a small JSON-ready dict for a
prompt, and `render_facts` bounds its size. `current_facts` is `facts` for the chat, which
asks for them at every message: the part read from logs and workouts is cached until they
change. Text the user wrote (names, notes, allergies)
is cut short and kept as JSON string values, never spliced into instructions.
"""

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_zone
from fitness.timeutils import start_of_day
from food import selectors as food_selectors
from food.goals import DailyGoals, activity_level, daily_goals
from workouts import selectors as workout_selectors
from workouts.models import Workout

DAYS = 7
MAX_FACTS_CHARS = 6000
MAX_TEXT = 60
MAX_NOTES = 100
MAX_MEALS_TODAY = 10
MAX_SESSIONS = 10
MAX_EXERCISES_PER_SESSION = 8
MAX_RECORDS = 8
MACROS = ("calories", "protein", "carbs", "fat")
# How long current_facts may serve the activity part of the facts: only a write that no
# commit announces (raw SQL, a migration) could leave it stale, for at most this long.
ACTIVITY_CACHE_SECONDS = 600

DIETARY_RESTRICTIONS = (
    "vegetarian",
    "vegan",
    "pescatarian",
    "gluten_free",
    "dairy_free",
    "nut_free",
)


@dataclass(frozen=True)
class Snapshot:
    user: User
    now: datetime  # in the user's zone
    zone: ZoneInfo
    goals: DailyGoals
    eaten_today: dict[str, float]  # MACROS + "logs"
    meals_today: list[dict[str, Any]]  # newest first: name, meal_type, calories
    food_days: list[dict[str, Any]]  # oldest first, today last: date, MACROS, logs
    workouts: list[Workout]  # the last DAYS days, newest first, exercises prefetched
    workout_stats: dict[str, Any]  # workouts.selectors.workout_stats over the same days

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def remaining_today(self) -> dict[str, float]:
        return {
            name: round(getattr(self.goals, name) - self.eaten_today[name], 1) for name in MACROS
        }

    @property
    def dietary_restrictions(self) -> list[str]:
        return _dietary_restrictions(self.user)

    @property
    def allergies(self) -> list[str]:
        return _allergies(self.user)


def build_snapshot(user: User, *, now: datetime | None = None) -> Snapshot:
    zone = user_zone(user)
    local_now = (now or timezone.now()).astimezone(zone)
    today = local_now.date()
    first_day = today - timedelta(days=DAYS - 1)

    nutrition = food_selectors.nutrition_stats(
        user=user, start=first_day, end=today, zone=zone, today=today
    )
    days = [
        {"date": day["date"], **{name: day[name] for name in MACROS}, "logs": day["logs"]}
        for day in nutrition["days"]
    ]
    meals = (
        food_selectors.list_food_logs(user=user, start=start_of_day(today, zone))
        .prefetch_related(None)
        .values("name", "meal_type", "calories")[:MAX_MEALS_TODAY]
    )
    window_start = start_of_day(first_day, zone)
    workouts = list(workout_selectors.list_workouts(user=user, start=window_start))
    stats = workout_selectors.workout_stats(user=user, start=window_start, now=local_now)
    return Snapshot(
        user=user,
        now=local_now,
        zone=zone,
        goals=daily_goals(user, today),
        eaten_today=days[-1],
        meals_today=list(meals),
        food_days=days,
        workouts=workouts,
        workout_stats=stats,
    )


def facts(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as compact numbers (metric units) for a prompt."""
    return _compose(snapshot.user, snapshot.now, snapshot.goals, _activity(snapshot))


def current_facts(user: User, *, now: datetime | None = None) -> dict[str, Any]:
    """`facts(build_snapshot(user))`, with the part read from the user's food logs and
    workouts cached until they change (`forget_activity`, at the commit of any write to
    them), their local day or time zone moves on, or ACTIVITY_CACHE_SECONDS pass (for a
    write that bypassed the ORM). The profile and the clock are always the caller's now.

    The version is read with the entry, and an entry is kept only under the version read
    before its rows were: a write committing meanwhile changes the version, so a snapshot
    that missed it is never served."""
    zone = user_zone(user)
    local_now = (now or timezone.now()).astimezone(zone)
    entry_key, version_key = _activity_keys(user.pk)
    found = cache.get_many([entry_key, version_key])
    version = found.get(version_key)
    stamp = (version, local_now.date().isoformat(), zone.key)
    entry = found.get(entry_key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        return _compose(user, local_now, daily_goals(user, local_now.date()), entry["activity"])
    snapshot = build_snapshot(user, now=local_now)
    activity = _activity(snapshot)
    cache.set(entry_key, {"stamp": stamp, "activity": activity}, ACTIVITY_CACHE_SECONDS)
    return _compose(user, local_now, snapshot.goals, activity)


def forget_activity(user_ids: Iterable[Any]) -> None:
    """What `current_facts` cached for these users is stale: their logs or workouts changed."""
    # A fresh random version rather than a deleted entry: a snapshot being read right now
    # was stamped with the old one, so it cannot be stored as current (see current_facts).
    # It outlives every entry, so an entry can never match a version that came back.
    cache.set_many(
        {_activity_keys(user_id)[1]: uuid.uuid4().hex for user_id in user_ids},
        2 * ACTIVITY_CACHE_SECONDS,
    )


def _activity_keys(user_id: Any) -> tuple[str, str]:
    return f"coach:activity:{user_id}", f"coach:activity-version:{user_id}"


def _compose(
    user: User, now: datetime, goals: DailyGoals, activity: dict[str, Any]
) -> dict[str, Any]:
    today = now.date()
    eaten = activity["eaten_today"]
    return {
        "now": {
            "date": today.isoformat(),
            "weekday": today.strftime("%A"),
            "local_time": now.strftime("%H:%M"),
            "timezone": now.tzinfo.key,
        },
        "profile": _drop_empty(
            {
                "name": _short(user.display_name or user.name, 40),
                "age": _age(user.birthday, today) if user.birthday else None,
                "gender": user.gender or None,
                "height_cm": _number(user.height_cm),
                "weight_kg": _number(user.weight_kg),
                "target_weight_kg": _number(user.target_weight_kg),
                "fitness_goal": user.fitness_goal or None,
                "activity_level": activity_level(_preferences(user)),
                "measurement_system": user.measurement_system,
                "dietary_restrictions": _dietary_restrictions(user),
                "allergies": _allergies(user),
            }
        ),
        "daily_goals": {**{name: getattr(goals, name) for name in MACROS}, "source": goals.source},
        "today_food": {
            "eaten": {name: _number(eaten[name]) for name in MACROS},
            "remaining": {name: round(getattr(goals, name) - eaten[name], 1) for name in MACROS},
            "logs": eaten["logs"],
            "meals": activity["meals"],
        },
        "food_last_7_days": activity["food_last_7_days"],
        "workouts_last_7_days": activity["workouts_last_7_days"],
        "personal_records": activity["personal_records"],
    }


def _activity(snapshot: Snapshot) -> dict[str, Any]:
    """What the facts take from the user's logs and workouts (no profile, no clock)."""
    totals = snapshot.workout_stats["totals"]
    return {
        "eaten_today": {name: snapshot.eaten_today[name] for name in (*MACROS, "logs")},
        "meals": [
            {
                "meal": meal["meal_type"] or "unspecified",
                "name": _short(meal["name"]),
                "kcal": meal["calories"],
            }
            for meal in snapshot.meals_today
        ],
        "food_last_7_days": {
            "columns": ["date", *MACROS, "logs"],
            "rows": [
                [day["date"].strftime("%m-%d"), *(_number(day[n]) for n in MACROS), day["logs"]]
                for day in snapshot.food_days
            ],
        },
        "workouts_last_7_days": {
            "count": totals["workouts"],
            "completed": totals["completed"],
            "minutes": totals["minutes"],
            "calories_burned": totals["calories_burned"],
            "volume_kg": _number(totals["training_volume_kg"]),
            "by_type": {
                row["type"]: row["workouts"]
                for row in snapshot.workout_stats["by_type"]
                if row["workouts"]
            },
            "streak_days": snapshot.workout_stats["streak_days"],
            "sessions": [
                _session(workout, snapshot.zone) for workout in snapshot.workouts[:MAX_SESSIONS]
            ],
        },
        "personal_records": _records(snapshot.workout_stats["personal_records"]),
    }


def render_facts(data: dict[str, Any]) -> str:
    """Compact JSON of at most MAX_FACTS_CHARS characters: detail goes first (notes,
    exercise names, sessions, meals, records) until it fits; what is left then (numbers, a
    few short names) is a small fraction of the limit. `<` is escaped so that no value can
    close the tag the prompt wraps the facts in."""
    data = json.loads(json.dumps(data, default=str))
    text = _dump(data)
    for shrink in _SHRINKERS:
        if len(text) <= MAX_FACTS_CHARS:
            break
        shrink(data)
        text = _dump(data)
    return text


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


def _sessions(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["workouts_last_7_days"]["sessions"]


def _drop_notes(data: dict[str, Any]) -> None:
    for session in _sessions(data):
        session.pop("notes", None)


def _drop_exercises(data: dict[str, Any]) -> None:
    for session in _sessions(data):
        session.pop("exercises", None)


def _drop_sessions(data: dict[str, Any]) -> None:
    data["workouts_last_7_days"]["sessions"] = _sessions(data)[:3]


def _drop_meals(data: dict[str, Any]) -> None:
    data["today_food"]["meals"] = []


def _drop_records(data: dict[str, Any]) -> None:
    data["personal_records"] = data["personal_records"][:3]


_SHRINKERS: list[Callable[[dict[str, Any]], None]] = [
    _drop_notes,
    _drop_exercises,
    _drop_sessions,
    _drop_meals,
    _drop_records,
]


def _session(workout: Workout, zone: ZoneInfo) -> dict[str, Any]:
    exercises = list(workout.exercises.all())
    session = {
        "date": workout.created_at.astimezone(zone).strftime("%m-%d"),
        "type": workout.type,
        "name": _short(workout.name),
        "minutes": workout.duration,
        "kcal": workout.calories_burned,
        "volume_kg": _number(workout.volume_kg),
        "done": workout.completed,
        "exercises": [_exercise(exercise) for exercise in exercises[:MAX_EXERCISES_PER_SESSION]],
        "notes": _short(workout.notes, MAX_NOTES),
    }
    return _drop_empty(session)


def _exercise(exercise) -> str:
    text = _short(exercise.name, 40)
    if exercise.sets and exercise.reps:
        text += f" {exercise.sets}x{exercise.reps}"
    if exercise.weight_kg:
        text += f" @{_number(exercise.weight_kg)}kg"
    return text


def _records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def latest(record: dict[str, Any]) -> date:
        return max(
            entry["date"]
            for key in ("heaviest_weight", "best_one_rep_max", "best_volume")
            if (entry := record.get(key))
        )

    chosen = sorted(records, key=latest, reverse=True)[:MAX_RECORDS]
    return [
        _drop_empty(
            {
                "exercise": _short(record["exercise"], 40),
                "heaviest_kg": _number((record.get("heaviest_weight") or {}).get("value_kg")),
                "best_1rm_kg": _number((record.get("best_one_rep_max") or {}).get("value_kg")),
                "date": latest(record).isoformat(),
            }
        )
        for record in chosen
    ]


def _dietary_restrictions(user: User) -> list[str]:
    raw = _preferences(user).get("dietary_restrictions")
    chosen = {str(item).strip().lower() for item in raw} if isinstance(raw, list) else set()
    return [name for name in DIETARY_RESTRICTIONS if name in chosen]


def _allergies(user: User) -> list[str]:
    raw = _preferences(user).get("allergies")
    if not isinstance(raw, list):
        return []
    return [_short(str(item)) for item in raw[:10] if str(item).strip()]


def _preferences(user: User) -> dict[str, Any]:
    return user.preferences if isinstance(user.preferences, dict) else {}


def _age(birthday: date, today: date) -> int:
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def _number(value: Decimal | float | int | None) -> float | int | None:
    if value is None:
        return None
    number = round(float(value), 1)
    return int(number) if number.is_integer() else number


def _short(text: str | None, limit: int = MAX_TEXT) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _drop_empty(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "", [], {})}
