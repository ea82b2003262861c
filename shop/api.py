"""What every API endpoint shares: the one exception handler and its error shape."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.cache import add_never_cache_headers
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shop.db_router import replays_on_primary
from shop.exceptions import DatabaseUnavailable, ShopError
from shop.inputs import error_summary
from shop.ratelimits import refusal

log = logging.getLogger(__name__)


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
