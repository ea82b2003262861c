"""Fixtures and service checks shared by every test."""

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

REQUIRE_SERVICES = os.environ.get("SHOP_REQUIRE_SERVICES") == "1"


def _unavailable(reason: str) -> None:
    """Skip for want of a service, or fail when CI requires every service (.ci/run)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (SHOP_REQUIRE_SERVICES=1 makes this a failure)")
    pytest.skip(reason)


def process_environment(**overrides: str) -> dict[str, str]:
    """The environment of a child process (a worker, a second app) on this test's PostgreSQL
    database and Redis, with the shop's own settings module."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        **overrides,
    }


@pytest.fixture
def postgres(db) -> None:
    """Require the test database to be PostgreSQL."""
    if connection.vendor != "postgresql":
        _unavailable("needs PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432)")


@pytest.fixture
def redis_cache() -> None:
    """Require the default cache to be Redis."""
    if settings.TEST_REDIS_URL is None:
        _unavailable("needs Redis on REDIS_URL (default 127.0.0.1:6379)")


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def operator(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(email="ops@shop.test", password="pw-ops-1")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client
