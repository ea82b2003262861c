"""Error pages: JSON under /api/, the storefront's own pages elsewhere."""

import json
from functools import cache

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

# The plain pages (plain_error.html) carry their own <style>: they must render with no static
# files, and nothing on them runs or comes from a client (settings.CONTENT_SECURITY_POLICY).
plain_page_policy = csp_update({"style-src": [UNSAFE_INLINE]})


@plain_page_policy
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Django answers here before the middleware has run (an unknown Host is refused on the way
    # in), so nothing may read the user, the session or the database: a plain page (issue 11).
    if isinstance(exception, DisallowedHost):
        detail, code = "This server does not serve the host named in the request.", "unknown_host"
    else:
        detail, code = "The request was not understood.", "bad_request"
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail, "code": code}, status=400)
    return HttpResponse(loader.get_template("400_plain.html").render(), status=400)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return render(request, "404.html", status=404)


@plain_page_policy
def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
    # No context processors: the page must render even when the database is down.
    return HttpResponse(loader.get_template("500.html").render(), status=500)


@cache
def uri_too_long_answer(*, api: bool) -> tuple[str, bytes]:
    """Return the content type and body that refuse a request line over the server's limit.

    Whichever layer refuses first sends these: gunicorn's worker (shop/server.py) or nginx,
    through uri_too_long (nginx/limits.conf). Rendered once, with no request (issue 11).
    """
    if api:
        detail = "The request's address is longer than the server accepts."
        return "application/json", json.dumps({"detail": detail, "code": "uri_too_long"}).encode()
    return "text/html; charset=utf-8", loader.get_template("414.html").render().encode()


@plain_page_policy
def uri_too_long(request: HttpRequest) -> HttpResponse:
    content_type, body = uri_too_long_answer(api=request.path.startswith("/api/"))
    return HttpResponse(body, content_type=content_type, status=414)
