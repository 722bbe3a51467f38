from functools import partial

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from fitness import json_bounds


class JSONParser(parsers.JSONParser):
    """DRF's parser within the bounds every client document gets (`fitness.json_bounds`), so a
    body nested past the decoder's limit or carrying a NUL is a 400, never a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json_bounds.bounded(partial(super().parse, stream, media_type, parser_context))
        except json_bounds.UnsafeJSON as exc:
            raise ParseError(str(exc)) from exc
