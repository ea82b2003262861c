"""Liveness and readiness probes for the load balancer and the operator."""

import uuid

from django.core.cache import cache
from django.db import DatabaseError, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from shop.db_router import replica_aliases, replica_states, replica_usable


@never_cache
def healthz(request) -> JsonResponse:
    """The process is up and serving; says nothing of its dependencies."""
    return JsonResponse({"status": "ok"})


def _database_state(alias: str) -> str:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as error:
        return f"down: {error.__class__.__name__}"


def _cache_state() -> str:
    probe = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(probe, "1", timeout=5)
        hit = cache.get(probe) == "1"
        cache.delete(probe)
    except Exception as error:  # any backend failure is a state to report, not a 500
        return f"down: {error.__class__.__name__}"
    return "ok" if hit else "degraded: not storing"


def _replica_state(alias: str) -> str:
    if replica_usable(alias):
        return f"ok (lag {replica_states()[alias].lag:.1f}s)"
    return f"skipped: {replica_states()[alias].last_error}"


@never_cache
def readyz(request) -> JsonResponse:
    """Report each dependency's state; 503 when the primary database is unreachable.

    A replica that is down or behind is reported, not fatal: reads fall back to the primary.
    """
    checks = {"database": _database_state("default"), "cache": _cache_state()}
    checks.update({alias: _replica_state(alias) for alias in replica_aliases()})
    ready = checks["database"] == "ok"
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
