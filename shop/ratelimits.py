"""The shop's rate limits, by name: what each counts, whom it counts, and the 429 it answers.

The rates are settings (`RATELIMITS`, DESIGN.md's table), read on every request so that the
environment can raise them (`RATELIMIT_SCALE`) or switch them off (`RATELIMIT_ENABLE`) for a load
test. django-ratelimit counts in the default cache, Redis when REDIS_URL is set: every replica of
the app adds to one count per client, so landing on several replicas buys no extra allowance.
Views that share a name share a count: the storefront's catalog pages and the API's products
draw on one "browsing" allowance, both sign-in forms on the same two "login" ones.

    @ratelimit("add_to_cart")                       # a storefront view
    @method_decorator(ratelimit("add_to_cart"))     # a DRF handler method

A request over a limit raises `RateLimited` before the view runs, so it changes nothing; the API's
exception handler answers a JSON 429 and ShopErrorMiddleware the storefront's 429 page, both with
Retry-After.
"""

import ipaddress
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited
from rest_framework.request import Request

RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
PERIOD_NAMES = {60: "minute", 60 * 60: "hour", 24 * 60 * 60: "day"}


# --- Who is counted -------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """Return the client's address: the trusted proxy's header when set and valid, else REMOTE_ADDR.

    Behind nginx, REMOTE_ADDR is nginx itself; nginx puts the address it saw in X-Real-IP
    (SHOP_TRUSTED_PROXY_HEADER=HTTP_X_REAL_IP). X-Forwarded-For is never read: a client can write
    its own, and would get a fresh allowance with each made-up address. (RATELIMIT_IP_META_KEY
    names this function, so django-ratelimit's "ip" key uses it.)
    """
    header = settings.SHOP_TRUSTED_PROXY_HEADER
    if header:
        try:
            return str(ipaddress.ip_address(request.META.get(header, "").strip()))
        except ValueError:
            pass  # not behind the proxy (a direct request to a replica): its own peer address
    # Empty only on a Unix socket without the proxy header: count such clients together.
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


def submitted_account(group: str, request: HttpRequest) -> str:
    """Key sign-in attempts by the e-mail they name (lower-case), else by the client's address.

    Each sign-in form is read by the field it authenticates: the API's `email`, the storefront's
    `username` (Django's AuthenticationForm), so no second field can dodge the count.
    """
    if isinstance(request, Request):
        body, field = request.data, "email"
    else:
        body, field = request.POST, "username"
    email = body.get(field) if isinstance(body, Mapping) else None
    if isinstance(email, str) and email.strip():
        return "account:" + unicodedata.normalize("NFKC", email).strip().lower()
    return "ip:" + client_ip(request)


# --- The limits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    counted: str  # what the 429 says was counted: "at most 30 adds to cart per minute"
    key: str | Callable  # django-ratelimit's key: "user_or_ip" (user pk, else address), "ip"
    method: object = ALL  # the HTTP methods counted


# Each name's rate is settings.RATELIMITS[name]; a view opts in with @ratelimit(name).
LIMITS = {
    "browsing": Limit("product pages", "user_or_ip"),
    "search": Limit("searches", "user_or_ip"),
    "add_to_cart": Limit("adds to cart", "user_or_ip", ["POST"]),
    "place_order": Limit("orders", "user_or_ip", ["POST"]),
    "login_ip": Limit("sign-in attempts from one address", "ip", ["POST"]),
    "login_account": Limit("sign-in attempts for one account", submitted_account, ["POST"]),
    "registration": Limit("registrations from one address", "ip", ["POST"]),
}


def current_rate(name: str) -> tuple[int, int]:
    """Return the named limit's (requests, seconds) now, scaled by RATELIMIT_SCALE."""
    match = RATE.match(settings.RATELIMITS[name].strip())
    if match is None:
        raise ValueError(f"RATELIMITS[{name!r}] is not like '30/m' or '5/15m'")
    count, multiple, unit = match.groups()
    requests = max(1, math.floor(int(count) * settings.RATELIMIT_SCALE))
    return requests, int(multiple or 1) * PERIOD_SECONDS[unit]


# --- Counting and refusing ------------------------------------------------------------------


def _per(seconds: int) -> str:
    if seconds in PERIOD_NAMES:
        return f"per {PERIOD_NAMES[seconds]}"
    for unit_seconds, unit in sorted(PERIOD_NAMES.items(), reverse=True):
        if seconds % unit_seconds == 0:
            return f"per {seconds // unit_seconds} {unit}s"
    return f"per {seconds} seconds"


def describe_wait(seconds: int) -> str:
    """Return a wait in words, rounded up: "1 second", "42 seconds", "15 minutes", "3 hours"."""
    if seconds >= 2 * 60 * 60:
        amount, unit = math.ceil(seconds / 3600), "hour"
    elif seconds >= 2 * 60:
        amount, unit = math.ceil(seconds / 60), "minute"
    else:
        amount, unit = seconds, "second"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


class RateLimited(Ratelimited):
    """Over a limit: django-ratelimit's error (a PermissionDenied), knowing when to come back."""

    def __init__(self, name: str, requests: int, seconds: int, retry_after: int):
        self.name = name
        self.retry_after = retry_after
        self.detail = (
            f"Too many requests: at most {requests} {LIMITS[name].counted} {_per(seconds)}. "
            f"Try again in {describe_wait(retry_after)}."
        )
        super().__init__(self.detail)


def refusal(error: Ratelimited) -> tuple[str, int]:
    """Return (detail, Retry-After seconds) for a 429, also for django-ratelimit's own error."""
    if isinstance(error, RateLimited):
        return error.detail, error.retry_after
    return "Too many requests. Try again in a minute.", 60


def count_request(request: HttpRequest, *names: str) -> None:
    """Count the request against each named limit; raise RateLimited on the first it exceeds.

    Redis down: django-redis ignores the error, the count is unknown and the request goes
    through (RATELIMIT_FAIL_OPEN): a cache outage must not turn every request into a 429 or a
    500, and nginx's coarse per-address limit still stands in front.
    """
    for name in names:
        limit = LIMITS[name]
        requests, seconds = current_rate(name)
        usage = get_usage(
            request,
            group=name,
            key=limit.key,
            rate=(requests, seconds),
            method=limit.method,
            increment=True,
        )
        if usage is not None and usage["should_limit"]:
            raise RateLimited(name, requests, seconds, retry_after=max(1, usage["time_left"]))


def ratelimit(*names: str):
    """Decorate a view so that each request counts against the named limits before it runs."""
    for name in names:
        if name not in LIMITS:
            raise KeyError(f"No rate limit named {name!r}: see shop/ratelimits.py LIMITS")

    def decorator(view):
        @wraps(view)
        def limited_view(request, *args, **kwargs):
            count_request(request, *names)
            return view(request, *args, **kwargs)

        return limited_view

    return decorator
