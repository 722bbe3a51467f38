"""Workout suggestions without a model, from the user's last 7 days and personal records.

- Rest after hard days: when the latest workout (today or yesterday) was hard (HIIT, an hour
  or more, 600 kcal or more, or a set at RPE 9+), an easy recovery session comes first.
- Balance of types: each fitness goal has a target mix of strength, cardio and mobility;
  the kinds furthest below their share of the week's sessions come next.
- Balance of muscle groups: a strength session works the group (legs, push, pull, core)
  trained least recently, recognised from the exercise names.
- Progression: lifts with a personal record get ~2.5 % more than the record (to a 2.5 kg or
  5 lb step, at least one step up) when it is recent, the record's weight when it is older.
"""

from datetime import date, timedelta
from decimal import Decimal
from math import ceil, floor

from accounts.models import FitnessGoal
from ai_assistant.personal_context import Snapshot
from ai_assistant.recommendations.schemas import SuggestedExercise, Weight, WorkoutSuggestion
from fitness.measurements import MASS_TO_KG
from workouts.metrics import normalize_exercise_name
from workouts.models import Workout, WorkoutType

SUGGESTIONS = 3
HARD_MINUTES = 60
HARD_CALORIES = 600
HARD_RPE = 9
PROGRESSION = Decimal("1.025")
RECENT_RECORD_DAYS = 30
MAX_LIFTS = 4

GROUPS = ("legs", "push", "pull", "core")
_GROUP_WORDS: dict[str, tuple[str, ...]] = {
    "legs": (
        "squat",
        "lunge",
        "leg press",
        "leg curl",
        "leg extension",
        "calf",
        "step-up",
        "step up",
        "hip thrust",
        "glute",
        "romanian",
        "deadlift",
        "split squat",
    ),
    "push": (
        "bench",
        "push-up",
        "push up",
        "pushup",
        "chest",
        "fly",
        "flye",
        "dip",
        "overhead press",
        "shoulder press",
        "military press",
        "tricep",
        "incline",
    ),
    "pull": (
        "row",
        "pull-up",
        "pull up",
        "pullup",
        "chin-up",
        "chin up",
        "lat ",
        "pulldown",
        "pull-down",
        "face pull",
        "shrug",
        "deadlift",
        "bicep",
        "hammer curl",
    ),
    "core": (
        "plank",
        "crunch",
        "sit-up",
        "sit up",
        "situp",
        "russian twist",
        "leg raise",
        "hollow",
        "dead bug",
        "mountain climber",
        "ab wheel",
        "bird dog",
    ),
}
_DEFAULT_LIFTS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "legs": (("Goblet squat", 3, 10), ("Romanian deadlift", 3, 10), ("Walking lunge", 3, 12)),
    "push": (("Push-up", 3, 10), ("Dumbbell bench press", 3, 10), ("Overhead press", 3, 10)),
    "pull": (("Dumbbell row", 3, 10), ("Lat pulldown", 3, 10), ("Face pull", 3, 12)),
    "core": (("Dead bug", 3, 10), ("Hanging knee raise", 3, 10), ("Bird dog", 3, 10)),
}
# Target share of a week's sessions per kind, by fitness goal.
_MIX: dict[str, dict[str, float]] = {
    FitnessGoal.LOSE_WEIGHT: {"cardio": 0.45, "strength": 0.35, "mobility": 0.20},
    FitnessGoal.GAIN_MUSCLE: {"strength": 0.60, "cardio": 0.20, "mobility": 0.20},
    FitnessGoal.IMPROVE_ENDURANCE: {"cardio": 0.60, "strength": 0.25, "mobility": 0.15},
}
_DEFAULT_MIX = {"strength": 0.40, "cardio": 0.40, "mobility": 0.20}
_KIND_OF_TYPE = {
    WorkoutType.STRENGTH: "strength",
    WorkoutType.CARDIO: "cardio",
    WorkoutType.HIIT: "cardio",
    WorkoutType.SPORTS: "cardio",
    WorkoutType.FLEXIBILITY: "mobility",
}


def muscle_groups(exercise_name: str) -> set[str]:
    name = f" {normalize_exercise_name(exercise_name)} "
    return {group for group, words in _GROUP_WORDS.items() if any(w in name for w in words)}


def is_hard(workout: Workout) -> bool:
    if workout.type == WorkoutType.HIIT:
        return True
    if (workout.duration or 0) >= HARD_MINUTES or (workout.calories_burned or 0) >= HARD_CALORIES:
        return True
    return any(
        log.rpe is not None and log.rpe >= HARD_RPE
        for exercise in workout.exercises.all()
        for log in exercise.set_logs.all()
    )


def suggest_workouts(snapshot: Snapshot) -> tuple[list[WorkoutSuggestion], float]:
    """Suggestions and how much of the user's own history they rest on (0 to 1)."""
    suggestions: list[WorkoutSuggestion] = []
    builders = {"strength": _strength, "cardio": _cardio, "mobility": _mobility}
    latest = snapshot.workouts[0] if snapshot.workouts else None
    if latest is not None and is_hard(latest):
        day = _local_day(latest, snapshot)
        if day >= snapshot.today - timedelta(days=1):
            suggestions.append(_recovery(latest, day, snapshot))
            del builders["mobility"]  # the recovery session is mobility work
    for kind in _kinds_by_need(snapshot):
        if kind in builders and len(suggestions) < SUGGESTIONS:
            suggestions.append(builders[kind](snapshot))
    return suggestions, _confidence(snapshot)


def _kinds_by_need(snapshot: Snapshot) -> list[str]:
    mix = _MIX.get(snapshot.user.fitness_goal, _DEFAULT_MIX)
    kinds = [_KIND_OF_TYPE.get(workout.type) for workout in snapshot.workouts]
    counted = [kind for kind in kinds if kind is not None]

    def need(kind: str) -> tuple[float, float]:
        share = counted.count(kind) / len(counted) if counted else 0.0
        return (-(mix[kind] - share), -mix[kind])

    return sorted(mix, key=need)


def _local_day(workout: Workout, snapshot: Snapshot) -> date:
    return workout.created_at.astimezone(snapshot.zone).date()


def _when(day: date, snapshot: Snapshot) -> str:
    return "Today" if day == snapshot.today else "Yesterday"


def _recovery(latest: Workout, day: date, snapshot: Snapshot) -> WorkoutSuggestion:
    minutes = f"{latest.duration}-minute " if latest.duration else ""
    kind = latest.get_type_display() if latest.type == WorkoutType.HIIT else latest.type
    return WorkoutSuggestion(
        name="Active recovery",
        type=WorkoutType.FLEXIBILITY,
        intensity="easy",
        duration_minutes=25,
        focus=["recovery", "mobility"],
        exercises=[
            _timed("Easy walk", 1, 15 * 60),
            _timed("Foam rolling", 1, 5 * 60),
            _timed("Full-body stretch", 1, 5 * 60),
        ],
        reason=(
            f"{_when(day, snapshot)}'s {minutes}{kind} workout was hard: "
            "an easy day lets you recover before the next hard one."
        ),
    )


def _strength(snapshot: Snapshot) -> WorkoutSuggestion:
    last_trained: dict[str, date] = {}
    for workout in snapshot.workouts:
        for exercise in workout.exercises.all():
            for group in muscle_groups(exercise.name):
                day = _local_day(workout, snapshot)
                last_trained[group] = max(day, last_trained.get(group, day))
    focus = min(GROUPS, key=lambda group: (last_trained.get(group, date.min), GROUPS.index(group)))
    lifts, progressed = _lifts(focus, snapshot)
    if focus in last_trained:
        days = (snapshot.today - last_trained[focus]).days
        why = f"Your {focus} muscles were trained least recently ({_days_ago(days)})"
    else:
        why = f"You have not trained {focus} in the last 7 days"
    if progressed:
        why += f"; {progressed}"
    return WorkoutSuggestion(
        name=f"{focus.capitalize()} strength",
        type=WorkoutType.STRENGTH,
        intensity="moderate",
        duration_minutes=45,
        focus=[focus],
        exercises=lifts,
        reason=_sentence(why),
    )


def _lifts(focus: str, snapshot: Snapshot) -> tuple[list[SuggestedExercise], str]:
    """The user's own lifts for `focus` (progressed from their records), then defaults."""
    lifts: list[SuggestedExercise] = []
    progressed = ""
    records = [
        record
        for record in snapshot.workout_stats["personal_records"]
        if focus in muscle_groups(record["exercise"]) and record.get("heaviest_weight")
    ]
    for record in records[:MAX_LIFTS]:
        best = record["heaviest_weight"]
        recent = best["date"] >= snapshot.today - timedelta(days=RECENT_RECORD_DAYS)
        weight = _weight(best["value_kg"], snapshot, progress=recent)
        lifts.append(
            SuggestedExercise(name=record["exercise"], sets=3, reps=5, seconds=None, weight=weight)
        )
        if not progressed:
            record_weight = _weight(best["value_kg"], snapshot, progress=False)
            progressed = (
                f"your best {record['exercise']} is {record_weight.value:g} {record_weight.unit} "
                f"({best['date'].isoformat()}), so try {weight.value:g} {weight.unit}"
                if recent
                else f"work back up to your best {record['exercise']} of "
                f"{record_weight.value:g} {record_weight.unit}"
            )
    known = {normalize_exercise_name(lift.name) for lift in lifts}
    for name, sets, reps in _DEFAULT_LIFTS[focus]:
        if len(lifts) >= MAX_LIFTS - 1 and lifts:
            break
        if normalize_exercise_name(name) not in known:
            lifts.append(
                SuggestedExercise(name=name, sets=sets, reps=reps, seconds=None, weight=None)
            )
    return lifts, progressed


def _weight(kg: Decimal, snapshot: Snapshot, *, progress: bool) -> Weight:
    """`kg` in the user's units, rounded to a loadable step (up, when progressing)."""
    unit = "lb" if snapshot.user.measurement_system == "imperial" else "kg"
    step = Decimal("5") if unit == "lb" else Decimal("2.5")
    value = Decimal(kg) / MASS_TO_KG[unit]
    if progress:
        steps = max(round(value * PROGRESSION / step), floor(value / step) + 1)
    else:
        steps = round(value / step)
    return Weight(value=float(steps * step), unit=unit)


def _cardio(snapshot: Snapshot) -> WorkoutSuggestion:
    durations = [
        workout.duration
        for workout in snapshot.workouts
        if _KIND_OF_TYPE.get(workout.type) == "cardio" and workout.duration
    ]
    if durations:
        average = sum(durations) / len(durations)
        minutes = min(90, max(15, 5 * ceil(average * 1.1 / 5)))
        why = (
            f"About 10% longer than your average cardio session this week "
            f"({round(average)} min) builds endurance gradually"
        )
    else:
        minutes = 30 if snapshot.user.fitness_goal == FitnessGoal.IMPROVE_ENDURANCE else 25
        why = "No cardio in the last 7 days: a steady session keeps your heart and lungs fit"
    return WorkoutSuggestion(
        name="Steady cardio",
        type=WorkoutType.CARDIO,
        intensity="moderate",
        duration_minutes=minutes,
        focus=["endurance"],
        exercises=[_timed("Run, cycle or brisk walk at a conversational pace", 1, minutes * 60)],
        reason=_sentence(why),
    )


def _mobility(snapshot: Snapshot) -> WorkoutSuggestion:
    done = sum(1 for workout in snapshot.workouts if workout.type == WorkoutType.FLEXIBILITY)
    why = (
        "No mobility work in the last 7 days: it keeps joints moving freely for your other training"
        if not done
        else "A little mobility work each week keeps your other training comfortable"
    )
    return WorkoutSuggestion(
        name="Mobility and stretching",
        type=WorkoutType.FLEXIBILITY,
        intensity="easy",
        duration_minutes=20,
        focus=["mobility"],
        exercises=[
            SuggestedExercise(name="Cat-cow", sets=2, reps=10, seconds=None, weight=None),
            SuggestedExercise(
                name="World's greatest stretch", sets=2, reps=5, seconds=None, weight=None
            ),
            _timed("Hip flexor stretch", 2, 45),
            _timed("Hamstring stretch", 2, 45),
        ],
        reason=_sentence(why),
    )


def _timed(name: str, sets: int, seconds: int) -> SuggestedExercise:
    return SuggestedExercise(name=name, sets=sets, reps=None, seconds=seconds, weight=None)


def _days_ago(days: int) -> str:
    return {0: "today", 1: "yesterday"}.get(days, f"{days} days ago")


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _confidence(snapshot: Snapshot) -> float:
    """0.3, plus up to 0.5 for how many workouts the last 7 days hold (4 or more count
    fully), plus 0.1 when there are personal records to progress from."""
    sessions = min(len(snapshot.workouts), 4) / 4
    records = 0.1 if snapshot.workout_stats["personal_records"] else 0.0
    return round(0.3 + 0.5 * sessions + records, 2)
