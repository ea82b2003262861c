"""Input parsing that the API and the storefront share: fields that check what was sent as the
schema states it, and one line summing up a validation error. Neither the API nor the storefront
views own it, so a storefront view never imports an API module (issue 14).
"""

import re
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.fields import empty

# A character str.strip() keeps, which is what makes trimmed text not blank, in a pattern the
# schema can state too (JSON Schema's \s is not Python's whitespace).
NOT_BLANK_PATTERN = (
    r"[^\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


class StrictTextMixin(serializers.Field):
    """Refuse numbers and booleans rather than quietly turning them into text."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TextField(StrictTextMixin, serializers.CharField):
    """Text checked as it was sent, as the schema states it, then kept with its ends trimmed.

    DRF trims before it checks: "a" and 200 spaces passed max_length=100, and "\x1c" alone was
    blank, where the schema said otherwise (issue 11).
    """

    def __init__(self, *, trim_whitespace: bool = True, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.keep_trimmed = trim_whitespace
        if trim_whitespace and not self.allow_blank:
            self.validators.append(
                RegexValidator(NOT_BLANK_PATTERN, message="This field may not be blank.")
            )

    def run_validation(self, data: Any = empty) -> Any:
        value = super().run_validation(data)
        return value.strip() if self.keep_trimmed and isinstance(value, str) else value


class WholeNumberField(serializers.IntegerField):
    """An integer that refuses floats (2.0), booleans and decimal strings ("2.5", "1e3")."""

    default_error_messages = {"invalid": "A whole number is required."}

    def to_internal_value(self, data: Any) -> int:
        # ASCII digits only, as the schema's "integer" means: int() also takes " 5" or "1_000".
        if isinstance(data, bool | float) or (
            isinstance(data, str) and not re.fullmatch(r"-?[0-9]+", data)
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


def error_summary(errors: Any) -> str:
    """Return the first message of a DRF error structure, prefixed with its field."""
    if isinstance(errors, dict):
        field, value = next(iter(errors.items()))
        message = error_summary(value)
        return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return error_summary(errors[0])
    return str(errors)
