import sys
from collections.abc import Callable
from typing import TextIO


def terminal_progress(stream: TextIO = sys.stderr) -> Callable[[str, int], None] | None:
    """A one-line counter on stderr, only when it is a terminal (logs and CI stay clean)."""
    if not stream.isatty():
        return None

    def show(entity: str, done: int) -> None:
        stream.write(f"\r{entity}: {done} rows read")
        stream.flush()

    return show
