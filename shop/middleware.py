"""Project-wide middleware: storefront error pages (503 while the database is away), and the
sessions' idle lifetime."""

import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django_ratelimit.exceptions import Ratelimited

from shop.db_router import replays_on_primary
from shop.exceptions import DatabaseUnavailable, ShopError
from shop.ratelimits import describe_wait, refusal

log = logging.getLogger(__name__)
ERROR_TEMPLATES = {400: "400.html", 404: "404.html"}
SEEN_KEY = "_seen"


class ShopErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError):
            # Unless a replica failed a read: ReadYourWritesMiddleware runs it on the primary.
            if not replays_on_primary(request, exception):
                return _database_unavailable(request, exception)
            return None
        if isinstance(exception, Ratelimited) and not request.path.startswith("/api/"):
            return _too_many_requests(request, exception)
        if not isinstance(exception, ShopError) or request.path.startswith("/api/"):
            return None
        template = ERROR_TEMPLATES.get(exception.status_code, "400.html")
        return render(request, template, {"detail": exception.detail}, status=exception.status_code)


def _database_unavailable(request, error: Exception) -> HttpResponse:
    """503 with a retry hint; a page in the plain layout, which asks no database for a menu.

    The API's views answer their own (shop.api.exception_handler); this covers the rest.
    """
    log.warning(
        "database unavailable, answering 503 to %s %s: %s", request.method, request.path, error
    )
    if request.path.startswith("/api/"):
        unavailable = DatabaseUnavailable()
        body = {"detail": unavailable.detail, "code": unavailable.code}
        response = JsonResponse(body, status=unavailable.status_code)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(DatabaseUnavailable.retry_after)
    add_never_cache_headers(response)
    return response


def _too_many_requests(request, error: Ratelimited):
    detail, retry_after = refusal(error)
    context = {"detail": detail, "retry_after": retry_after, "wait": describe_wait(retry_after)}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response


class SessionKeepAliveMiddleware:
    """Give sessions an idle lifetime: refresh the expiry of an active session now and then.

    Saving on every request (SESSION_SAVE_EVERY_REQUEST) would write the database each time;
    refreshing at most once per SESSION_KEEPALIVE_SECONDS bounds that to one write a minute.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.session_key and not session.is_empty():
            now = int(time.time())
            if now - session.get(SEEN_KEY, 0) >= settings.SESSION_KEEPALIVE_SECONDS:
                session[SEEN_KEY] = now
        return response
