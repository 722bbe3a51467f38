"""The bounds every JSON document from a client gets, whether a REST body or a socket frame.

The decoder's own recursion limit is the depth bound: past it `json` raises RecursionError,
which neither DRF nor Channels treats as a malformed document, so both would end in a 500 or
a dead socket. PostgreSQL's jsonb (free-form fields such as `metadata`) cannot store a NUL
character, which no legitimate client sends anyway.
"""

import json
from collections.abc import Callable
from typing import Any

TOO_DEEP = "JSON parse error - the document is nested too deeply."
HAS_NUL = "JSON text may not contain NUL characters (\\u0000)."


class UnsafeJSON(ValueError):
    """A document refused by one of the bounds above; its message is safe to show a client."""


def _contains_nul(data: Any) -> bool:
    # Iterative: a document may nest as deep as the decoder allows.
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def bounded(decode: Callable[[], Any]) -> Any:
    """Runs a JSON decoder and applies the bounds to what it returns."""
    try:
        data = decode()
    except RecursionError as exc:
        raise UnsafeJSON(TOO_DEEP) from exc
    if _contains_nul(data):
        raise UnsafeJSON(HAS_NUL)
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """`json.loads`, strict like DRF's parser (no NaN or Infinity), within the bounds.

    Raises ValueError for text that is not JSON, UnsafeJSON (a ValueError) past a bound.
    """
    return bounded(lambda: json.loads(text, parse_constant=_refuse_constant))
