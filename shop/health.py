"""Liveness and readiness probes for the load balancer and the operator.

/readyz answers each dependency's state in one word, "ok" or "down": the reason goes to the log,
never to the client (issue 12: the body named internal exception classes). nginx serves it to
loopback and the monitoring networks only (nginx/nginx.conf).
"""

import logging
import os
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from shop.db_router import replica_aliases, replica_states, replica_usable

log = logging.getLogger(__name__)

OK, DOWN = "ok", "down"
# This process's last answer: (monotonic time, status code, body). A flood of /readyz costs one
# query and two cache operations per READYZ_CACHE_SECONDS, whatever its size.
_last_answer: tuple[float, int, dict] | None = None
_lock = threading.Lock()


@never_cache
def healthz(request) -> JsonResponse:
    """The process is up and serving; says nothing of its dependencies (no database, no cache)."""
    return JsonResponse({"status": "ok"})


def _database_state(alias: str) -> str:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        log.warning("readyz: database %s down: %r", alias, error)
        return DOWN
    return OK


def _cache_state() -> str:
    # A key of this process's own, left to expire: no delete, and no two processes share it.
    probe = f"readyz:{settings.SHOP_REPLICA_NAME}:{os.getpid()}"
    value = str(time.monotonic_ns())
    try:
        cache.set(probe, value, timeout=5)
        stored = cache.get(probe) == value
    except Exception as error:  # any backend failure is a state to report, not a 500
        log.warning("readyz: cache down: %r", error)
        return DOWN
    if not stored:  # django-redis ignores its errors (IGNORE_EXCEPTIONS): it just stores nothing
        log.warning("readyz: cache down: it does not store")
        return DOWN
    return OK


def _replica_state(alias: str) -> str:
    if replica_usable(alias):
        return OK
    log.warning("readyz: replica %s skipped: %s", alias, replica_states()[alias].last_error)
    return DOWN


def _readiness() -> tuple[int, dict]:
    checks = {"database": _database_state("default"), "cache": _cache_state()}
    checks.update({alias: _replica_state(alias) for alias in replica_aliases()})
    ready = checks["database"] == OK
    return (200 if ready else 503), {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
    }


def forget_readiness() -> None:
    """Drop this process's remembered answer: the next /readyz checks again (tests)."""
    global _last_answer
    _last_answer = None


@never_cache
def readyz(request) -> JsonResponse:
    """Report each dependency's state; 503 when the primary database is unreachable.

    A replica that is down or behind is reported, not fatal: reads fall back to the primary.
    """
    global _last_answer
    with _lock:  # one check at a time per process; the others wait for its answer
        now = time.monotonic()
        if _last_answer is None or now - _last_answer[0] >= settings.READYZ_CACHE_SECONDS:
            _last_answer = (now, *_readiness())
        _checked_at, status, body = _last_answer
    return JsonResponse(body, status=status)
