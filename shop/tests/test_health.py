import threading

import pytest
from django.db import connections
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_says_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok"}}


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
    assert result["body"]["checks"]["database"] == "down: OperationalError"


def test_readyz_says_the_cache_is_degraded_when_it_stores_nothing(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["cache"] == "degraded: not storing"


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
