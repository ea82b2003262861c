"""Observability: the request id, JSON logs and the Prometheus metrics served at /metrics.

A request's id comes from nginx (`X-Request-ID`) or is made here. It lives in a context variable
while the request runs, rides in the headers of every Celery task the request publishes, and is
set again while that task runs, so one id joins nginx's access log, the app's and the worker's.

gunicorn runs several worker processes, each with its own counters. With PROMETHEUS_MULTIPROC_DIR
set, every process writes its metrics to files in that directory and /metrics adds them up. The
cluster sets it for the app and the Celery workers, to a directory emptied before they start
(stale files from a previous run would be counted again); gunicorn's `child_exit` hook should
call `prometheus_client.multiprocess.mark_process_dead(worker.pid)`.
"""

import hmac
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar, Token
from functools import lru_cache
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from redis.sentinel import Sentinel

REQUEST_ID_HEADER = "X-Request-ID"
SERVED_BY_HEADER = "X-Served-By"
TASK_HEADER = "shop_request_id"  # the Celery message header that carries the id
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1"})
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BROKER_TIMEOUT_SECONDS = 0.25

request_id: ContextVar[str | None] = ContextVar("shop_request_id", default=None)

# --- Metrics --------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "shop_http_requests_total",
    "Requests served, by view, method and status.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "shop_http_request_duration_seconds",
    "Time to serve a request through the whole middleware chain, by view, method and status.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CACHE_LOOKUPS = Counter(
    "shop_cache_lookups_total",
    "Cache-aside lookups, by kind of data (settings.CACHE_TTLS) and result (hit or miss).",
    ["kind", "result"],
)
DB_ROUTE = Counter(
    "shop_db_route_total",
    "Database aliases the router chose for reads, by alias and reason.",
    ["alias", "reason"],
)
REPLICA_UP = Gauge(
    "shop_db_replica_up",
    "1 while the router uses a replica, 0 while it skips it (down or lagging).",
    ["alias"],
    multiprocess_mode="livemostrecent",
)


def record_cache_lookup(kind: str, hit: bool) -> None:
    """Count one cache-aside lookup of `kind` as a hit or a miss."""
    CACHE_LOOKUPS.labels(kind=kind, result="hit" if hit else "miss").inc()


def record_db_route(alias: str, reason: str) -> None:
    """Count one routing choice of the database router (reason: a short fixed word)."""
    DB_ROUTE.labels(alias=alias, reason=reason).inc()


def record_replica_health(alias: str, up: bool) -> None:
    """Publish whether the router currently uses the replica `alias`."""
    REPLICA_UP.labels(alias=alias).set(1 if up else 0)


@lru_cache(maxsize=4)
def _broker(url: str) -> redis.Redis:
    timeouts = {
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
    }
    if not url.startswith("sentinel://"):
        return redis.Redis.from_url(url, **timeouts)
    # kombu's "sentinel://[:password@]host:port/db;sentinel://host:port/db": ask the sentinels
    # for the master now, as the workers do (issue 13).
    parts = [urlsplit(part) for part in url.split(";")]
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    sentinels = Sentinel(
        [(part.hostname, part.port or 26379) for part in parts],
        sentinel_kwargs={**timeouts, **options.get("sentinel_kwargs", {})},
    )
    return sentinels.master_for(
        options["master_name"],
        db=int(parts[0].path.lstrip("/") or 0),
        password=parts[0].password,
        **timeouts,
    )


class CeleryQueueCollector:
    """Report the length of the Celery queue at scrape time, -1 when the broker is unreachable.

    Only a Redis broker, one node or a Sentinel group, is asked (kombu keeps a queue as a list
    under the queue's name, and one more list per priority step); with any other broker, or
    none, the metric is left out.
    """

    name = "shop_celery_queue_length"
    documentation = "Tasks waiting in the Celery queue; -1 when the broker did not answer."
    priority_separator = "\x06\x16"  # kombu's Redis transport: "<queue>\x06\x16<priority>"
    priority_steps = (3, 6, 9)

    def describe(self):
        # Without describe(), registering would call collect() and so ask the broker at import.
        return [GaugeMetricFamily(self.name, self.documentation, labels=["queue"])]

    def collect(self):
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://", "unix://", "sentinel://")):
            return
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        keys = [queue, *(f"{queue}{self.priority_separator}{step}" for step in self.priority_steps)]
        try:
            with _broker(url).pipeline(transaction=False) as pipeline:
                for key in keys:
                    pipeline.llen(key)
                length = sum(pipeline.execute())
        except (redis.RedisError, OSError):
            length = -1
        family = GaugeMetricFamily(self.name, self.documentation, labels=["queue"])
        family.add_metric([queue], length)
        yield family


QUEUE_LENGTH = CeleryQueueCollector()
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    REGISTRY.register(QUEUE_LENGTH)


def _scrape_registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(QUEUE_LENGTH)
    return registry


def _may_scrape(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        presented = request.headers.get("Authorization", "")
        if hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            return True
    # Through nginx the peer may be 127.0.0.1 too, but nginx always adds X-Forwarded-For.
    local = request.META.get("REMOTE_ADDR") in LOCAL_ADDRESSES
    return local and "X-Forwarded-For" not in request.headers


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Serve the metrics in Prometheus's text format, to 127.0.0.1 or a holder of METRICS_TOKEN."""
    if not _may_scrape(request):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    return HttpResponse(generate_latest(_scrape_registry()), content_type=CONTENT_TYPE_LATEST)


# --- Request id and the middleware ----------------------------------------------------------


def current_request_id() -> str | None:
    """Return the id of the request (or of the request behind the task) being served, if any."""
    return request_id.get()


class ObservabilityMiddleware:
    """Give each request its id, name the replica that served it, and count and time it.

    First in MIDDLEWARE, so the time covers the whole chain and every response carries the id.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = rid  # django.request logs after the chain; the filter reads it here
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[REQUEST_ID_HEADER] = rid
        response[SERVED_BY_HEADER] = settings.SHOP_REPLICA_NAME
        match = getattr(request, "resolver_match", None)
        labels = {
            "view": match.view_name if match else "unmatched",
            "method": request.method if request.method in HTTP_METHODS else "other",
            "status": str(response.status_code),
        }
        HTTP_REQUESTS.labels(**labels).inc()
        HTTP_LATENCY.labels(**labels).observe(time.perf_counter() - started)
        return response


# --- Logs -----------------------------------------------------------------------------------


class RequestLogFilter(logging.Filter):
    """Add `request_id` and `replica` to every record, for the text and the JSON formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get() or getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = rid
        record.replica = settings.SHOP_REPLICA_NAME
        return True


class JsonLogFormatter(JsonFormatter):
    """One JSON object a line: timestamp, level, logger, message, request_id, replica, extras."""

    def __init__(self, **kwargs):
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(request_id)s %(replica)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            # django.request passes the request itself; its id is already on the line.
            reserved_attrs=[*RESERVED_ATTRS, "request"],
            **kwargs,
        )


# --- Celery: the id travels with the task ---------------------------------------------------
# Connected in config/celery.py to Celery's publish and run hooks (not Django model signals).

_task_tokens: dict[str, Token] = {}


def send_request_id(headers: dict | None = None, **kwargs) -> None:
    """before_task_publish: put the current request id in the task's message headers."""
    rid = request_id.get()
    if rid and headers is not None:
        headers[TASK_HEADER] = rid


def adopt_request_id(task_id: str | None = None, task=None, **kwargs) -> None:
    """task_prerun: serve the task under the id of the request that published it.

    A task run inline (eager, in a request) keeps the request's id: its message had no headers.
    """
    context = getattr(task, "request", None)
    rid = None
    if context is not None:
        rid = context.get(TASK_HEADER) or (context.get("headers") or {}).get(TASK_HEADER)
    _task_tokens[task_id] = request_id.set(rid or request_id.get())


def forget_request_id(task_id: str | None = None, **kwargs) -> None:
    """task_postrun: go back to the id in force before the task ran."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id.reset(token)
