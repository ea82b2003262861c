"""The shop's rate limits, by name: what each counts, whom it counts, and the 429 it answers.

The rates are settings (`RATELIMITS`, DESIGN.md's table), read on every request so that the
environment can raise them (`RATELIMIT_SCALE`) or switch them off (`RATELIMIT_ENABLE`) for a load
test. django-ratelimit counts in the default cache, Redis when REDIS_URL is set: every replica of
the app adds to one count per client, so landing on several replicas buys no extra allowance.
Views that share a name share a count: the storefront's catalog pages and the API's products
draw on one "browsing" allowance, both password reset forms on the same two "password_reset" ones.

    @ratelimit("add_to_cart")                       # a storefront view
    @method_decorator(ratelimit("add_to_cart"))     # a DRF handler method

A request over a limit raises `RateLimited` before the view runs, so it changes nothing; the API's
exception handler answers a JSON 429 and ShopErrorMiddleware the storefront's 429 page, both with
Retry-After.

Passwords are different (issue 12): every place that checks one (sign-in on the storefront, the
API and the admin, password change, a reset link's token) counts failed checks only, with
`@limit_password_checks`, in three counts they all share: per client address (`login_ip`), per
account and address (`login_account_ip`: an attacker elsewhere cannot spend the owner's budget)
and per account from anywhere (`login_account`, a slower backstop against a guesser with many
addresses). A check takes its place in each count before it runs and gives it back when it
passes, so parallel guesses cannot all slip through before the first failure is counted, and
a right password never leads to a 429 by itself.
"""

import contextlib
import hashlib
import ipaddress
import math
import re
import time
import unicodedata
import zlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils.http import urlsafe_base64_decode
from django_ratelimit import ALL
from django_ratelimit import core as ratelimit_core
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.response import Response

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
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 (a counter's key, not a bind)


def signing_in_account(request: HttpRequest) -> str | None:
    """Return the e-mail a sign-in names (lower-case), else None.

    Each sign-in form is read by the field it authenticates: the API's `email`, the storefront's
    and the admin's `username` (Django's AuthenticationForm), so no second field can dodge the
    count.
    """
    if isinstance(request, Request):
        body, field = request.data, "email"
    else:
        body, field = request.POST, "username"
    email = body.get(field) if isinstance(body, Mapping) else None
    if isinstance(email, str) and email.strip():
        return "account:" + unicodedata.normalize("NFKC", email).strip().lower()
    return None


def signed_in_account(request: HttpRequest) -> str | None:
    """Return the signed-in user's account (a password change checks the old password)."""
    user = request.user
    return f"account:{user.email.lower()}" if user.is_authenticated else None


def reset_link_account(request: HttpRequest) -> str | None:
    """Return the account a reset link names by its uid: the API's `uid`, the page's `uidb64`.

    Keyed by the account's pk (no query before the check), so apart from its sign-in count.
    """
    if isinstance(request, Request):
        uid = request.data.get("uid") if isinstance(request.data, Mapping) else None
    else:
        uid = request.resolver_match.kwargs.get("uidb64") if request.resolver_match else None
    if not isinstance(uid, str) or not uid.strip():
        return None
    try:  # one account, however its uid is padded or encoded
        return "user:" + urlsafe_base64_decode(uid.strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return "uid:" + uid.strip()


def submitted_reset_email(group: str, request: HttpRequest) -> str:
    """Key password reset requests by the e-mail they name (lower-case), else by the address."""
    body = request.data if isinstance(request, Request) else request.POST
    email = body.get("email") if isinstance(body, Mapping) else None
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
    "registration": Limit("registrations from one address", "ip", ["POST"]),
    "password_reset_ip": Limit("password resets from one address", "ip", ["POST"]),
    "password_reset_account": Limit(
        "password resets for one e-mail address", submitted_reset_email, ["POST"]
    ),
    # Failed password checks only, through @limit_password_checks; PASSWORD_LIMITS says whom.
    "login_ip": Limit("failed password attempts from one address", "ip"),
    "login_account_ip": Limit(
        "failed password attempts for one account from one address", "account+ip"
    ),
    "login_account": Limit("failed password attempts for one account", "account"),
}
# Who each password limit counts, from the account checked and the client's address.
PASSWORD_LIMITS: dict[str, Callable[[str | None, str], str | None]] = {
    "login_ip": lambda account, address: address,
    "login_account_ip": lambda account, address: account and f"{account} from {address}",
    "login_account": lambda account, address: account,
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
        if limit.key in _ONE_TRIP_KEYS and _redis_client() is not None:
            usage = _count_in_one_trip(request, name, limit, requests, seconds)
        else:
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


# django-ratelimit counts with an add, then an incr: two round trips to Redis. This script does
# both in one, on the very key and window django-ratelimit uses (its own helpers make them), so
# the two ways count together. The fudge is django-ratelimit's EXPIRATION_FUDGE.
_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_ONE_TRIP_KEYS = {"user_or_ip": ratelimit_core.user_or_ip, "ip": ratelimit_core._get_ip}


def _redis_client():
    cache = caches[settings.RATELIMIT_USE_CACHE]
    client = getattr(cache, "client", None)
    return client if hasattr(client, "get_client") else None


def _count_in_one_trip(
    request: HttpRequest, name: str, limit: Limit, requests: int, seconds: int
) -> dict | None:
    """get_usage(increment=True) for a user or address key, in one round trip to Redis."""
    if not settings.RATELIMIT_ENABLE or not ratelimit_core._method_match(request, limit.method):
        return None
    assert isinstance(limit.key, str)  # noqa: S101 (only the string keys of _ONE_TRIP_KEYS)
    value = _ONE_TRIP_KEYS[limit.key](request)
    rate = (requests, seconds)
    window = ratelimit_core._get_window(value, seconds)
    cache = caches[settings.RATELIMIT_USE_CACHE]
    key = cache.make_key(ratelimit_core._make_cache_key(name, window, rate, value, limit.method))
    try:
        count = (
            _redis_client()
            .get_client(write=True)
            .eval(_COUNT_SCRIPT, 1, key, seconds + ratelimit_core.EXPIRATION_FUDGE)
        )
    except (RedisError, OSError):
        return None  # Redis down: uncounted (RATELIMIT_FAIL_OPEN), as get_usage does
    return {"should_limit": count > requests, "time_left": window - int(time.time())}


def ratelimit(*names: str):
    """Decorate a view so that each request counts against the named limits before it runs."""
    for name in names:
        if name not in LIMITS:
            raise KeyError(f"No rate limit named {name!r}: see shop/ratelimits.py LIMITS")
        if name in PASSWORD_LIMITS:
            raise KeyError(f"{name!r} counts failures: use @limit_password_checks")

    def decorator(view):
        @wraps(view)
        def limited_view(request, *args, **kwargs):
            count_request(request, *names)
            return view(request, *args, **kwargs)

        return limited_view

    return decorator


# --- Failed password checks -----------------------------------------------------------------


@dataclass(frozen=True)
class PasswordAttempt:
    """A password check's place in each count, taken before the check runs."""

    keys: tuple[str, ...]

    def passed(self) -> None:
        """Give the places back: a right password spends nothing of anyone's budget."""
        cache = caches[settings.RATELIMIT_USE_CACHE]
        for key in self.keys:
            with contextlib.suppress(ValueError):  # the window ended, and its count with it
                cache.decr(key)


def take_password_attempt(request: HttpRequest, *, account: str | None) -> PasswordAttempt:
    """Count a password check before it runs; raise RateLimited, counting nothing, if over a limit.

    The count is taken first (one atomic add-or-increment each) so that fifty guesses sent at
    once cannot all be checked before the first failure is recorded: exact, not eventually.
    Redis down: that count is unknown and the check goes ahead (RATELIMIT_FAIL_OPEN).
    """
    if not settings.RATELIMIT_ENABLE:
        return PasswordAttempt(keys=())
    cache = caches[settings.RATELIMIT_USE_CACHE]
    address = _counted_address(request)
    taken: list[str] = []
    for name, whom in PASSWORD_LIMITS.items():
        value = whom(account, address)
        if value is None:
            continue  # no account named: the address alone is counted
        requests, seconds = current_rate(name)
        window_end = _window_end(value, seconds)
        count_of = f"{name}/{requests}/{seconds}/{value}/{window_end}"  # a new rate: a new count
        key = "rl:pw:" + hashlib.sha256(count_of.encode()).hexdigest()
        count = _add_one(cache, key, timeout=seconds + 5)
        if count is None:
            continue
        taken.append(key)
        if count > requests:
            PasswordAttempt(keys=tuple(taken)).passed()  # refused unchecked: not a failure
            retry_after = max(1, window_end - int(time.time()))
            raise RateLimited(name, requests, seconds, retry_after=retry_after)
    return PasswordAttempt(keys=tuple(taken))


def limit_password_checks(
    account: Callable[[HttpRequest], str | None], methods: Collection[str] = ("POST",)
):
    """Decorate a view that checks a password or a reset token: count the checks that fail.

    `account(request)` names the account checked; requests by other `methods` (showing the form)
    are not counted. The view passes when it answers a DRF response under 300 (the API raises its
    refusals) or a redirect (a form redirects on success and shows itself again with its errors);
    anything else, an exception included, is a failure.
    """

    def decorator(view):
        @wraps(view)
        def limited_view(request, *args, **kwargs):
            if request.method not in methods:
                return view(request, *args, **kwargs)
            attempt = take_password_attempt(request, account=account(request))
            response = view(request, *args, **kwargs)
            if isinstance(response, Response):
                passed = response.status_code < 300
            else:
                passed = response.status_code in (301, 302, 303)
            if passed:
                attempt.passed()
            return response

        return limited_view

    return decorator


def _counted_address(request: HttpRequest) -> str:
    # As django-ratelimit's "ip" key: an IPv6 client by its /64, which it can fill with addresses.
    address = client_ip(request)
    if ":" not in address:
        return address
    mask = getattr(settings, "RATELIMIT_IPV6_MASK", 64)
    return str(ipaddress.ip_network(f"{address}/{mask}", strict=False).network_address)


def _window_end(value: str, seconds: int) -> int:
    # django-ratelimit's fixed windows: each key's window ends at its own offset in the period.
    now = int(time.time())
    end = now - now % seconds + zlib.crc32(value.encode()) % seconds
    return end if end >= now else end + seconds


def _add_one(cache, key: str, *, timeout: int) -> int | None:
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)  # django-redis: None when Redis is down (IGNORE_EXCEPTIONS)
    except ValueError:
        return None  # expired between the two calls: uncounted, as with Redis down
