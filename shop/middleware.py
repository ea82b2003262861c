"""Project-wide middleware: storefront error pages, and the sessions' idle lifetime."""

import time

from django.conf import settings
from django.shortcuts import render

from shop.exceptions import ShopError

ERROR_TEMPLATES = {400: "400.html", 404: "404.html"}
SEEN_KEY = "_seen"


class ShopErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ShopError) or request.path.startswith("/api/"):
            return None
        template = ERROR_TEMPLATES.get(exception.status_code, "400.html")
        return render(request, template, {"detail": exception.detail}, status=exception.status_code)


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
