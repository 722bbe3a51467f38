"""Side effects that wait for the database commit."""

from collections.abc import Callable
from typing import Any

from django.db import transaction


def robust_on_commit(func: Callable[..., Any], *args: Any, using: str | None = None) -> None:
    """Calls `func(*args)` once the current transaction commits (at once outside one).

    Robust: a failing callback is logged, never raised, so a write that has already
    committed does not turn into an error (with eager Celery the task runs right there).
    The callback is a closure named after `func`, not a functools.partial: Django logs a
    failing robust callback by its __qualname__, which a partial lacks (the logging itself
    would then raise).
    """

    def callback() -> None:
        func(*args)

    callback.__qualname__ = getattr(func, "__qualname__", type(func).__qualname__)
    transaction.on_commit(callback, using=using, robust=True)
