"""Hooks run when a user's activity data (workouts, food logs) changes.

The apps that own the data call `activity_changed` from their services; the apps that
read it (social's leaderboards) register a hook from their AppConfig.ready(), so workouts
and food never import them. Hooks run inside the caller's transaction and must defer
their side effects to after commit (`delay_on_commit`).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

ActivityHook = Callable[..., None]
_hooks: list[ActivityHook] = []


def register_activity_hook(hook: ActivityHook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def activity_changed(*, user_id: Any, kind: str, moments: list[datetime]) -> None:
    """`kind` is "workout" or "food_log"; `moments` are when the changed items took place
    (old and new values of an edit), so hooks can skip what no challenge covers."""
    for hook in _hooks:
        hook(user_id=user_id, kind=kind, moments=moments)
