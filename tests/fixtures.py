"""Fixtures, service checks and child processes shared by every test."""

import contextlib
import http.client
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

REQUIRE_SERVICES = os.environ.get("SHOP_REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
# A Redis cache nobody answers, for `override_settings(CACHES=DEAD_REDIS)`: the shop must
# fall back to the database, never answer a 500.
DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 0.2,
            "SOCKET_TIMEOUT": 0.2,
            "IGNORE_EXCEPTIONS": True,
        },
    }
}


def service_unavailable(reason: str) -> None:
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


def clean_environment(**values: str) -> dict[str, str]:
    """Only what a production process would have, and `values`: no test-only variables (the
    browser tests' DJANGO_ALLOW_ASYNC_UNSAFE, say)."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **values}


def run_manage(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `manage.py <arguments>` in a child process with exactly `env`; return its result."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass(frozen=True)
class Server:
    """A gunicorn serving the shop on a loopback port."""

    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def gunicorn(*arguments: str, env: dict[str, str], log: Path) -> Iterator[Server]:
    """Run gunicorn with the shop's config (config/gunicorn.py, as `make run` and the cluster
    do) on a free loopback port; yield it once /healthz answers, and stop it after."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                *(GUNICORN, "config.wsgi", "--config", "config/gunicorn.py"),
                *("--bind", "127.0.0.1:0", "--control-socket", str(log.with_suffix(".ctl"))),
                *arguments,
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield _answering(process, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answering(process: subprocess.Popen, log: Path) -> Server:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"gunicorn did not answer in 60 s: {log.read_text()}"
        match = LISTENING.search(log.read_text())
        if match and _healthy(int(match.group(1))):
            return Server(process=process, port=int(match.group(1)))
        time.sleep(0.1)


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture
def postgres(db) -> None:
    """Require the test database to be PostgreSQL."""
    if connection.vendor != "postgresql":
        service_unavailable("needs PostgreSQL on PGHOST:PGPORT (default 127.0.0.1:5432)")


@pytest.fixture
def redis_cache() -> None:
    """Require the default cache to be Redis."""
    if settings.TEST_REDIS_URL is None:
        service_unavailable("needs Redis on REDIS_URL (default 127.0.0.1:6379)")


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


@dataclass
class RoundTrips:
    """Redis round trips counted while the fixture lives (a pipeline or a script is one)."""

    count: int = 0


@pytest.fixture
def redis_round_trips(monkeypatch) -> RoundTrips:
    """Count every request sent to any Redis server: one per command, pipeline or script."""
    import redis.connection

    trips = RoundTrips()
    send = redis.connection.Connection.send_packed_command

    def counted(self, command, check_health=True):
        trips.count += 1
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    return trips
