import io
import json
import logging
import time
import uuid

import pytest
import redis
from celery.app.task import Context
from django.http import HttpResponse
from django.urls import path
from prometheus_client import REGISTRY

from shop import observability
from shop.observability import (
    JsonLogFormatter,
    RequestLogFilter,
    adopt_request_id,
    current_request_id,
    forget_request_id,
    send_request_id,
)

log = logging.getLogger(__name__)


def logging_view(request):
    log.warning("Placing an order")
    return HttpResponse("ok")


def bad_request_view(request):
    return HttpResponse("no", status=400)


urlpatterns = [  # for the JSON log tests only
    path("log/", logging_view, name="log"),
    path("bad/", bad_request_view, name="bad"),
]


@pytest.fixture
def json_lines():
    """Collect log lines as the console handler formats them with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestLogFilter())
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- Request id and replica name --------------------------------------------------------------


def test_a_request_without_an_id_gets_a_generated_one(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32
    assert uuid.UUID(hex=response["X-Request-ID"]).version == 4


def test_a_valid_incoming_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "nginx-4f2a.9c_01"})
    assert response["X-Request-ID"] == "nginx-4f2a.9c_01"


@pytest.mark.parametrize("incoming", ["short", "has space inside", "x" * 129, "semi;colon-1234"])
def test_an_invalid_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


def test_the_response_names_the_replica_that_served_it(client, settings):
    settings.SHOP_REPLICA_NAME = "app-2"
    assert client.get("/healthz")["X-Served-By"] == "app-2"


@pytest.mark.urls(__name__)
def test_a_log_line_during_a_request_is_json_with_its_request_id(client, settings, json_lines):
    settings.SHOP_REPLICA_NAME = "app-1"
    client.get("/log/", headers={"X-Request-ID": "req-0123456789"})
    [line] = json_lines()
    assert line["message"] == "Placing an order"
    assert line["level"] == "WARNING"
    assert line["logger"] == __name__
    assert line["request_id"] == "req-0123456789"
    assert line["replica"] == "app-1"
    assert "timestamp" in line
    assert current_request_id() is None  # nothing leaks to what runs after the request


@pytest.mark.urls(__name__)
def test_django_logging_a_4xx_after_the_middleware_still_carries_the_request_id(client, json_lines):
    client.get("/bad/", headers={"X-Request-ID": "req-0123456789"})
    [line] = [line for line in json_lines() if line["logger"] == "django.request"]
    assert line["message"] == "Bad Request: /bad/"
    assert line["request_id"] == "req-0123456789"
    assert line["status_code"] == 400
    assert "request" not in line


def test_a_log_line_outside_a_request_has_no_request_id(json_lines):
    log.warning("Beat tick")
    assert json_lines()[0]["request_id"] is None


# --- Celery ---------------------------------------------------------------------------------


def test_a_task_published_during_a_request_carries_its_id_in_the_headers():
    token = observability.request_id.set("req-0123456789")
    try:
        headers = {"lang": "py"}
        send_request_id(sender="orders.tasks.deliver_event_task", headers=headers, body=())
    finally:
        observability.request_id.reset(token)
    assert headers == {"lang": "py", "shop_request_id": "req-0123456789"}


def test_a_task_published_outside_a_request_gets_no_id_header():
    headers = {}
    send_request_id(sender="orders.tasks.deliver_event_task", headers=headers, body=())
    assert headers == {}


def test_a_task_logs_with_the_id_of_the_request_that_published_it(json_lines):
    task = type("Task", (), {"request": Context({"id": "t-1", "shop_request_id": "req-98765432"})})
    adopt_request_id(task_id="t-1", task=task)
    log.warning("Delivering event")
    forget_request_id(task_id="t-1", task=task)
    assert json_lines()[0]["request_id"] == "req-98765432"
    assert current_request_id() is None


def test_a_task_run_inline_during_a_request_keeps_the_request_id():
    task = type("Task", (), {"request": Context({"id": "t-2"})})
    token = observability.request_id.set("req-0123456789")
    try:
        adopt_request_id(task_id="t-2", task=task)
        assert current_request_id() == "req-0123456789"
        forget_request_id(task_id="t-2", task=task)
        assert current_request_id() == "req-0123456789"
    finally:
        observability.request_id.reset(token)


# --- /metrics -------------------------------------------------------------------------------


def test_metrics_count_requests_by_view_method_and_status(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'shop_http_requests_total{method="GET",status="200",view="healthz"}' in text
    assert 'shop_http_request_duration_seconds_bucket{le="0.005",method="GET"' in text


@pytest.mark.django_db  # the 404 page shows the category menu
def test_an_unrouted_request_is_counted_as_unmatched(client):
    before = sample("shop_http_requests_total", view="unmatched", method="GET", status="404")
    client.get("/no-such-page/at-all")
    after = sample("shop_http_requests_total", view="unmatched", method="GET", status="404")
    assert after == before + 1


def test_router_choices_and_replica_health_are_exposed(client):
    observability.record_db_route("replica1", "read")
    observability.record_replica_health("replica1", up=False)
    text = client.get("/metrics").content.decode()
    assert 'shop_db_route_total{alias="replica1",reason="read"}' in text
    assert 'shop_db_replica_up{alias="replica1"} 0.0' in text


def test_metrics_from_another_host_are_forbidden_without_the_token(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    wrong = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403


def test_metrics_from_another_host_are_served_with_the_token(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    response = client.get(
        "/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer scrape-secret"
    )
    assert response.status_code == 200
    assert b"shop_http_requests_total" in response.content


def test_metrics_proxied_by_a_local_nginx_are_forbidden(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 403


def test_metrics_are_never_cached(client):
    assert "no-cache" in client.get("/metrics")["Cache-Control"]


# --- Celery queue length --------------------------------------------------------------------


def test_queue_length_is_the_length_of_the_redis_queue(settings, redis_cache):
    queue = f"obs-test-{uuid.uuid4().hex}"
    settings.CELERY_BROKER_URL = settings.TEST_REDIS_URL
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    broker = redis.Redis.from_url(settings.TEST_REDIS_URL)
    broker.rpush(queue, "a", "b", "c")
    try:
        assert sample("shop_celery_queue_length", queue=queue) == 3
    finally:
        broker.delete(queue)


def test_queue_length_is_minus_one_when_the_broker_is_down(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    assert sample("shop_celery_queue_length", queue=settings.CELERY_TASK_DEFAULT_QUEUE) == -1
    # Bounded by the broker timeouts, not by kombu's retries (tens of seconds); the margin is for
    # a loaded CI machine, where this once took 3.7 s.
    assert time.monotonic() - started < 8


def test_queue_length_is_left_out_without_a_redis_broker(client, settings):
    settings.CELERY_BROKER_URL = ""
    assert b"shop_celery_queue_length" not in client.get("/metrics").content


def test_metrics_add_up_the_worker_files_in_multiprocess_mode(client, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"shop_http_requests_total" not in response.content  # no worker wrote a file yet
