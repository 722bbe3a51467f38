import codecs

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from fitness import json_bounds


class JSONParser(parsers.JSONParser):
    """DRF's parser within the bounds every client document gets (`fitness.json_bounds`), so a
    body nested past the decoder's limit, carrying a NUL or a number past a float is a 400,
    never a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF's own get_encoding refuses bytes-to-bytes codecs (a decompression bomb).
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return json_bounds.load(codecs.getreader(encoding)(stream))
        except json_bounds.UnsafeJSON as exc:
            raise ParseError(str(exc)) from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
