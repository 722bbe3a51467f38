import codecs
import json
import math

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant


def _finite_float(text: str) -> float:
    # The decoder reads 1e400 as infinity; DRF's strict mode only refuses the NaN and
    # Infinity literals. Past this point every JSON number is finite, so no field has to
    # fear NaN or an overflow of its own, and free-form JSON stays storable in jsonb.
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"Number out of range: {text[:32]}")
    return number


def _contains_nul(data) -> bool:
    # Iterative: a body may nest as deep as the JSON decoder allows.
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


class JSONParser(parsers.JSONParser):
    """DRF's parser, plus three refusals of bodies that would otherwise end in a 500.

    Nesting deeper than the decoder's recursion limit raises RecursionError, which DRF does not
    treat as a parse error; numbers too large for a float decode to infinity; and PostgreSQL's
    jsonb (free-form fields such as `metadata`) cannot store a NUL character, which no
    legitimate client sends anyway.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            data = json.load(
                codecs.getreader(encoding)(stream),
                parse_constant=strict_constant,
                parse_float=_finite_float,
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
        if _contains_nul(data):
            raise ParseError("JSON text may not contain NUL characters (\\u0000).")
        return data
