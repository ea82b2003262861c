import json
import threading

import pytest
from django.core.cache import caches
from django.db import connections
from django.test import Client

from shop.health import forget_readiness

pytestmark = pytest.mark.django_db

CACHE_OPERATIONS = ("get", "set", "add", "delete", "incr", "get_many", "set_many", "touch")


@pytest.fixture(autouse=True)
def _fresh_readiness():
    forget_readiness()
    yield
    forget_readiness()


@pytest.fixture
def cache_operations(monkeypatch) -> list[str]:
    """The default cache's operations, in order, as they happen (each still runs)."""
    seen: list[str] = []
    backend = caches["default"]
    for name in CACHE_OPERATIONS:
        method = getattr(backend, name)

        def counted(*args, _name=name, _method=method, **kwargs):
            seen.append(_name)
            return _method(*args, **kwargs)

        monkeypatch.setattr(backend, name, counted)
    return seen


def test_healthz_says_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok"}}


@pytest.mark.timeout(60)
def test_readyz_is_503_when_the_database_is_unreachable(postgres, monkeypatch):
    # A new thread opens its own connection, with settings pointing at a port nobody serves.
    monkeypatch.setitem(connections.settings["default"], "PORT", "1")
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    result = {}

    def probe():
        try:
            response = Client().get("/readyz")
            result["status"], result["body"] = response.status_code, response.json()
        finally:
            connections.close_all()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=30)
    assert result["status"] == 503
    assert result["body"]["status"] == "unavailable"
    assert result["body"] == {
        "status": "unavailable",
        "checks": {"database": "down", "cache": "ok"},
    }


@pytest.mark.timeout(60)
def test_readyz_names_no_exception_when_its_dependencies_are_down(
    postgres, settings, monkeypatch, caplog
):
    # The primary on a port nobody serves, and a Redis nobody runs: the body says "down" and
    # nothing else; which exception, and its message, go to the log for the operator.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    monkeypatch.setitem(connections.settings["default"], "PORT", "1")
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    result = {}

    def probe():
        try:
            response = Client().get("/readyz")
            result["status"], result["body"] = response.status_code, response.content.decode()
        finally:
            connections.close_all()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=30)
    assert result["status"] == 503
    assert json.loads(result["body"]) == {
        "status": "unavailable",
        "checks": {"database": "down", "cache": "down"},
    }
    assert "Error" not in result["body"]
    assert "refused" not in result["body"]
    assert "OperationalError" in caplog.text
    assert "ConnectionError" in caplog.text


def test_readyz_says_the_cache_is_down_when_it_stores_nothing(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["cache"] == "down"


def test_healthz_reads_neither_the_database_nor_the_cache(
    client, django_assert_num_queries, cache_operations
):
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200
    assert cache_operations == []


def test_readyz_costs_one_query_and_two_cache_operations(
    client, django_assert_num_queries, cache_operations
):
    with django_assert_num_queries(1):
        assert client.get("/readyz").status_code == 200
    assert cache_operations == ["set", "get"]


def test_a_flood_of_readyz_within_a_second_costs_one_check(
    client, settings, django_assert_num_queries, cache_operations
):
    settings.READYZ_CACHE_SECONDS = 1
    with django_assert_num_queries(1):
        for _ in range(20):
            assert client.get("/readyz").status_code == 200
    assert cache_operations == ["set", "get"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_are_never_cached(client, path):
    cache_control = client.get(path)["Cache-Control"]
    assert set(cache_control.split(", ")) == {
        "max-age=0",
        "no-cache",
        "no-store",
        "must-revalidate",
        "private",
    }
