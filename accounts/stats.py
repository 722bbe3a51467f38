"""`UserStats` gathered from the apps that own the data.

Each app registers a provider from its AppConfig.ready(); accounts never imports food or
workouts, so an app can land (or be removed) without touching this one.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from accounts.models import User


@dataclass
class StatsContribution:
    total_workouts: int = 0
    total_calories_burned: int = 0
    total_food_logs: int = 0
    # Local calendar days on which the user did something that keeps a streak alive.
    active_days: set[date] = field(default_factory=set)
    connections_count: int = 0
    # Earned elsewhere and stored by their app (e.g. `challenge_completed:<id>`).
    achievements: list[str] = field(default_factory=list)


StatsProvider = Callable[[User, str], StatsContribution]
_providers: list[StatsProvider] = []


def register_stats_provider(provider: StatsProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def current_streak(active_days: set[date], today: date) -> int:
    """Consecutive active days ending today, or yesterday while today is still open."""
    day = today if today in active_days else today - timedelta(days=1)
    streak = 0
    while day in active_days:
        streak += 1
        day -= timedelta(days=1)
    return streak


_ACHIEVEMENTS: list[tuple[str, Callable[[StatsContribution, int], bool]]] = [
    ("first_food_log", lambda s, streak: s.total_food_logs >= 1),
    ("food_logs_100", lambda s, streak: s.total_food_logs >= 100),
    ("first_workout", lambda s, streak: s.total_workouts >= 1),
    ("workouts_10", lambda s, streak: s.total_workouts >= 10),
    ("workouts_100", lambda s, streak: s.total_workouts >= 100),
    ("streak_7", lambda s, streak: streak >= 7),
    ("streak_30", lambda s, streak: streak >= 30),
]


def collect(user: User, tz_name: str, today: date) -> dict:
    total = StatsContribution()
    for provider in _providers:
        part = provider(user, tz_name)
        total.total_workouts += part.total_workouts
        total.total_calories_burned += part.total_calories_burned
        total.total_food_logs += part.total_food_logs
        total.active_days |= part.active_days
        total.connections_count += part.connections_count
        total.achievements += part.achievements
    streak = current_streak(total.active_days, today)
    return {
        "total_workouts": total.total_workouts,
        "total_calories_burned": total.total_calories_burned,
        "total_food_logs": total.total_food_logs,
        "streak_days": streak,
        "connections_count": total.connections_count,
        "achievements": [name for name, earned in _ACHIEVEMENTS if earned(total, streak)]
        + total.achievements,
    }
