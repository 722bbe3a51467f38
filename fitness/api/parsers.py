from rest_framework import parsers
from rest_framework.exceptions import ParseError


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
    """DRF's parser, plus two refusals of bodies that would otherwise end in a 500.

    Nesting deeper than the decoder's recursion limit raises RecursionError, which DRF does not
    treat as a parse error; and PostgreSQL's jsonb (free-form fields such as `metadata`) cannot
    store a NUL character, which no legitimate client sends anyway.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
        if _contains_nul(data):
            raise ParseError("JSON text may not contain NUL characters (\\u0000).")
        return data
