"""The API's JSON parser: DRF's own, refusing a body nested deeper than API_JSON_MAX_DEPTH."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """Parse a JSON body; one nested deeper than settings.API_JSON_MAX_DEPTH is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_JSON_MAX_DEPTH
        try:
            data = super().parse(stream, media_type=media_type, parser_context=parser_context)
        except RecursionError as error:
            # json's scanner recurses once a level: about a thousand exhaust the stack (issue 11).
            raise _too_deep(limit) from error
        if _nested_deeper_than(data, limit=limit):
            raise _too_deep(limit)
        return data


def _nested_deeper_than(data, *, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels, walked without recursion."""
    pending = [(data, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if level > limit:
            return True
        pending.extend((child, level + 1) for child in children)
    return False


def _too_deep(limit: int) -> ParseError:
    return ParseError(f"The JSON body is nested deeper than {limit} levels.", code="json_too_deep")
