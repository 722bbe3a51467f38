"""The bounds every JSON document from a client gets, whether a REST body or a socket frame.

The decoder's own recursion limit is the depth bound: past it `json` raises RecursionError,
which neither DRF nor Channels treats as a malformed document, so both would end in a 500 or
a dead socket. PostgreSQL's jsonb (free-form fields such as `metadata`) cannot store a NUL
character, which no legitimate client sends anyway. Numbers are finite: the decoder reads
1e400 as infinity and only refuses the NaN and Infinity literals when asked, so past this
point no field has to fear NaN or an overflow of its own.
"""

import json
import math
from collections.abc import Callable
from typing import Any, TextIO

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


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"Number out of range: {text[:32]}")
    return number


_STRICT = {"parse_constant": _refuse_constant, "parse_float": _finite_float}


def loads(text: str | bytes) -> Any:
    """`json.loads`, strict (no NaN, Infinity or numbers past a float), within the bounds.

    Raises ValueError for text that is not JSON, UnsafeJSON (a ValueError) past a bound.
    """
    return bounded(lambda: json.loads(text, **_STRICT))


def load(stream: TextIO) -> Any:
    """`loads` for a text stream (a request body)."""
    return bounded(lambda: json.load(stream, **_STRICT))
