"""Reads to streaming replicas, writes and transactions to the primary.

A read goes to the primary instead when its correctness matters (PRIMARY_APPS: sessions, tokens
and accounts, the cart, orders), when it runs inside a transaction, when its request writes or
is a POST/PUT/PATCH/DELETE or reaches the admin, or when the client wrote within
READ_YOUR_WRITES_SECONDS (a signed cookie carries that across app replicas). So the replicas
serve the catalog: the bulk of the reads on sale day.

A replica that refuses connections, or lags more than REPLICA_MAX_LAG_SECONDS behind, is
skipped for REPLICA_RETRY_SECONDS: reads fall back to the primary, and no error reaches the
shopper.
"""

import contextlib
import contextvars
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections

from shop.observability import record_db_route, record_replica_health

log = logging.getLogger(__name__)

PRIMARY = "default"
# Reads of these apps always go to the primary: a session or token just created, the cart and
# checkout, a caller's own orders must never be read behind.
PRIMARY_APPS = {"sessions", "knox", "accounts", "auth", "carts", "orders", "admin"}
COOKIE = "shop_rw"  # "this client wrote recently": signed, short-lived
LAG_CHECK_SECONDS = 2.0
LAG_SQL = (
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)

# Set for the length of a request by ReadYourWritesMiddleware.
_pinned = contextvars.ContextVar("shop_db_pinned", default=False)
_wrote = contextvars.ContextVar("shop_db_wrote", default=False)
_replica_used = contextvars.ContextVar("shop_db_replica_used", default=None)
# Set by reads_from_primary() around a block of reads that must not lag.
_from_primary = contextvars.ContextVar("shop_db_from_primary", default=False)


@dataclass
class ReplicaState:
    healthy: bool = True
    retry_at: float = 0.0
    lag_checked_at: float = 0.0
    lag: float = 0.0
    last_error: str = ""
    reads: int = field(default=0)


_states: dict[str, ReplicaState] = {}
_turns = itertools.count()


def replica_aliases() -> list[str]:
    return settings.DATABASE_REPLICA_ALIASES


def replica_states() -> dict[str, ReplicaState]:
    """This process's view of each replica (for /readyz and /metrics)."""
    return {alias: _states.setdefault(alias, ReplicaState()) for alias in replica_aliases()}


def _mark_down(alias: str, state: ReplicaState, reason: str) -> None:
    state.healthy = False
    record_replica_health(alias, up=False)
    state.retry_at = time.monotonic() + settings.REPLICA_RETRY_SECONDS
    state.last_error = reason
    log.warning("replica %s skipped for %ss: %s", alias, settings.REPLICA_RETRY_SECONDS, reason)
    with contextlib.suppress(DatabaseError):
        connections[alias].close()


def replica_usable(alias: str) -> bool:
    """Whether `alias` can serve reads now: reachable and not too far behind."""
    state = _states.setdefault(alias, ReplicaState())
    now = time.monotonic()
    if not state.healthy and now < state.retry_at:
        return False
    connection = connections[alias]
    try:
        # Django's own once-per-request ping (CONN_HEALTH_CHECKS), then a connection if none.
        connection.close_if_health_check_failed()
        connection.ensure_connection()
        if now - state.lag_checked_at >= LAG_CHECK_SECONDS:
            with connection.cursor() as cursor:
                cursor.execute(LAG_SQL)
                state.lag = float(cursor.fetchone()[0])
            state.lag_checked_at = now
    except DatabaseError as error:
        _mark_down(alias, state, f"unreachable: {error.__class__.__name__}")
        return False
    if state.lag > settings.REPLICA_MAX_LAG_SECONDS:
        _mark_down(alias, state, f"lagging {state.lag:.1f}s")
        return False
    if not state.healthy:
        log.warning("replica %s serves reads again", alias)
    state.healthy = True
    record_replica_health(alias, up=True)
    return True


def choose_read_alias(model=None) -> tuple[str, str]:
    """Return (alias, reason) for the next read (of `model`, when known)."""
    replicas = replica_aliases()
    if not replicas:
        return PRIMARY, "no_replica"
    if model is not None and model._meta.app_label in PRIMARY_APPS:
        return PRIMARY, "primary_app"
    if connections[PRIMARY].in_atomic_block:
        return PRIMARY, "transaction"
    if _pinned.get() or _wrote.get():
        return PRIMARY, "read_your_writes"
    if _from_primary.get():
        return PRIMARY, "just_written"
    start = next(_turns)
    for offset in range(len(replicas)):
        alias = replicas[(start + offset) % len(replicas)]
        if replica_usable(alias):
            return alias, "replica"
    return PRIMARY, "replica_unavailable"


@contextlib.contextmanager
def reads_from_primary():
    """Send the block's reads to the primary: what it reads was written a moment ago."""
    token = _from_primary.set(True)
    try:
        yield
    finally:
        _from_primary.reset(token)


Read = TypeVar("Read")


def read_fresh(read: Callable[[], Read]) -> tuple[Read, bool]:
    """Run `read` with its reads on the primary, and say whether they were: (result, fresh).

    For reads that must not lag (stock an order just took, a product just saved). While the
    primary is away (a failover: no connection), they run on the replicas instead, as any
    catalog read does: a few seconds behind beats a 503 on a product page. The caller keeps a
    result that is not fresh only replica_catch_up_seconds(). Inside a transaction nothing
    changes: its reads belong to the primary, and the error stands.
    """
    try:
        with reads_from_primary():
            return read(), True
    except (OperationalError, InterfaceError) as error:
        if not replica_aliases() or connections[PRIMARY].in_atomic_block:
            raise
        log.warning("the primary is away, reading from a replica meanwhile: %s", error)
        with contextlib.suppress(DatabaseError):
            connections[PRIMARY].close()
        return read(), False


def replica_catch_up_seconds() -> float:
    """How long after a commit a replica the router still uses may not have replayed it."""
    return settings.REPLICA_MAX_LAG_SECONDS + LAG_CHECK_SECONDS


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        alias, reason = choose_read_alias(model)
        record_db_route(alias, reason)
        if alias != PRIMARY:
            _replica_used.set(alias)
        return alias

    def db_for_write(self, model, **hints):
        _wrote.set(True)
        record_db_route(PRIMARY, "write")
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # every alias holds the same data

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


class ReadYourWritesMiddleware:
    """Pin a request to the primary when its client wrote recently, and mark clients that write."""

    UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
    SAFE = {"GET", "HEAD", "OPTIONS"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        recent = request.get_signed_cookie(
            COOKIE, default=None, salt=COOKIE, max_age=settings.READ_YOUR_WRITES_SECONDS
        )
        pinned = _pinned.set(
            bool(recent) or request.method in self.UNSAFE or request.path.startswith("/admin/")
        )
        wrote = _wrote.set(False)
        used = _replica_used.set(None)
        try:
            response = self.get_response(request)
            if _wrote.get() or request.method in self.UNSAFE:
                response.set_signed_cookie(
                    COOKIE,
                    "1",
                    salt=COOKIE,
                    max_age=settings.READ_YOUR_WRITES_SECONDS,
                    httponly=True,
                    samesite="Lax",
                    secure=settings.SESSION_COOKIE_SECURE,
                )
            return response
        finally:
            _pinned.reset(pinned)
            _wrote.reset(wrote)
            _replica_used.reset(used)

    def process_exception(self, request, exception):
        """A replica died under a read: skip it, and run the (safe) request again on the primary."""
        if not replays_on_primary(request, exception):
            return None
        alias = _replica_used.get()
        _mark_down(alias, _states.setdefault(alias, ReplicaState()), "failed during a read")
        request._shop_replayed = True
        _pinned.set(True)
        return self.get_response(request)


def replays_on_primary(request, exception: Exception) -> bool:
    """Whether ReadYourWritesMiddleware will run this failed request again on the primary.

    The error handlers that turn a database error into a 503 leave such a request alone.
    """
    return (
        isinstance(exception, DatabaseError)
        and _replica_used.get() is not None
        and request.method in ReadYourWritesMiddleware.SAFE
        and not getattr(request, "_shop_replayed", False)
    )
