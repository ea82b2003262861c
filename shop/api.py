"""What every API endpoint shares: the one exception handler and its error shape."""

import logging
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.validators import RegexValidator
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.cache import add_never_cache_headers
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions, serializers, status
from rest_framework.fields import empty
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shop.db_router import replays_on_primary
from shop.exceptions import DatabaseUnavailable, ShopError
from shop.ratelimits import refusal

log = logging.getLogger(__name__)

# A character str.strip() keeps, which is what makes trimmed text not blank, in a pattern the
# schema can state too (JSON Schema's \s is not Python's whitespace).
NOT_BLANK_PATTERN = (
    r"[^\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


class StrictTextMixin:
    """Refuse numbers and booleans rather than quietly turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TextField(StrictTextMixin, serializers.CharField):
    """Text checked as it was sent, as the schema states it, then kept with its ends trimmed.

    DRF trims before it checks: "a" and 200 spaces passed max_length=100, and "\x1c" alone was
    blank, where the schema said otherwise (issue 11).
    """

    def __init__(self, *, trim_whitespace: bool = True, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)
        self.keep_trimmed = trim_whitespace
        if trim_whitespace and not self.allow_blank:
            self.validators.append(
                RegexValidator(NOT_BLANK_PATTERN, message="This field may not be blank.")
            )

    def run_validation(self, data=empty):
        value = super().run_validation(data)
        return value.strip() if self.keep_trimmed and isinstance(value, str) else value


class WholeNumberField(serializers.IntegerField):
    """An integer that refuses floats (2.0), booleans and decimal strings ("2.5", "1e3")."""

    default_error_messages = {"invalid": "A whole number is required."}

    def to_internal_value(self, data):
        # ASCII digits only, as the schema's "integer" means: int() also takes " 5" or "1_000".
        if isinstance(data, bool | float) or (
            isinstance(data, str) and not re.fullmatch(r"-?[0-9]+", data)
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


def error_summary(errors) -> str:
    """Return the first message of a DRF error structure, prefixed with its field."""
    if isinstance(errors, dict):
        field, value = next(iter(errors.items()))
        message = error_summary(value)
        return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return error_summary(errors[0])
    return str(errors)


def exception_handler(exc, context) -> Response | None:
    """Render every error as JSON with `detail` and `code`; anything else stays a 500."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
        body = {"detail": f"The request body is over {limit} KB.", "code": "request_too_large"}
        return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    request = getattr(context.get("request"), "_request", None)
    replayed = request is not None and replays_on_primary(request, exc)  # a replica failed a read
    if isinstance(exc, OperationalError | InterfaceError) and not replayed:
        where = f"{request.method} {request.path}" if request is not None else "a request"
        log.warning("database unavailable, answering 503 to %s: %s", where, exc)
        exc = DatabaseUnavailable()
        response = Response({"detail": exc.detail, "code": exc.code}, status=exc.status_code)
        response["Retry-After"] = str(exc.retry_after)
        add_never_cache_headers(response)
        return response
    if isinstance(exc, ShopError):
        body = {"detail": exc.detail, "code": exc.code, **exc.extra}
        return Response(body, status=exc.status_code)
    if isinstance(exc, Ratelimited):  # before PermissionDenied, which it subclasses
        detail, retry_after = refusal(exc)
        response = Response(
            {"detail": detail, "code": "rate_limited"},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(retry_after)},
        )
        add_never_cache_headers(response)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": error_summary(exc.detail),
            "code": "invalid",
            "errors": exc.detail,
        }
        response.status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(response.data["detail"], "code", None) or "error"
        response.data = {**response.data, "code": code}
    return response
