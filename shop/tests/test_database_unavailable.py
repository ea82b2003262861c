"""While the primary cannot be reached (a failover: issue 13's drills), answers are 503, not 500.

The database's connection settings point at a port nobody serves, in a thread of its own (its
own connection), as in test_health.py: a real refused connection, no mock.
"""

import threading

import pytest
from django.db import connections
from django.test import Client

pytestmark = pytest.mark.django_db


def _get_while_the_database_is_down(monkeypatch, path: str):
    monkeypatch.setitem(connections.settings["default"], "PORT", "1")
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    result = {}

    def request():
        try:
            result["response"] = Client(raise_request_exception=False).get(path)
        finally:
            connections.close_all()

    thread = threading.Thread(target=request)
    thread.start()
    thread.join(timeout=30)
    return result["response"]


def test_the_api_answers_503_with_a_detail_and_when_to_retry(postgres, monkeypatch):
    response = _get_while_the_database_is_down(monkeypatch, "/api/v1/products/?q=lamp")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert "retry" in body["detail"].lower()
    assert response["Retry-After"] == "2"
    assert "OperationalError" not in response.content.decode()  # nothing about our insides


def test_a_storefront_page_answers_503_with_the_plain_error_page(postgres, monkeypatch):
    response = _get_while_the_database_is_down(monkeypatch, "/search/?q=lamp")
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "try again in a moment" in response.content.decode()
