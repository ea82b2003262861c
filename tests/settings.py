"""Test settings: the real PostgreSQL and Redis when reachable, else SQLite and memory.

The services are chosen by setting the environment that config/settings.py reads, so tests run
the very settings production does. `.ci/run` exports SHOP_REQUIRE_SERVICES=1, under which a test
that needs PostgreSQL or Redis and cannot have it fails instead of skipping (tests/fixtures.py).
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


_pg_host = os.environ.get("PGHOST", "127.0.0.1")
_pg_port = int(os.environ.get("PGPORT", "5432"))
_pg_user = os.environ.get("PGUSER", "postgres")
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = (
        f"postgres://{_pg_user}@{_pg_host}:{_pg_port}/shop"
        if _reachable(_pg_host, _pg_port)
        else "sqlite:///:memory:"
    )

# Tests flush their cache: by default Redis's database 15, never the one `make run` uses.
_redis = urlsplit(os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15"))
if not _reachable(_redis.hostname or "127.0.0.1", _redis.port or 6379):
    del os.environ["REDIS_URL"]
os.environ.setdefault("CACHE_KEY_PREFIX", "shoptest")
# Without Redis, the file cache of tests/ (which they flush), never the one of `make run`.
os.environ.setdefault("CACHE_DIR", str(Path(__file__).resolve().parents[1] / "var" / "test-cache"))

from config.settings import *  # noqa: E402, F403

TEST_REDIS_URL = REDIS_URL or None  # noqa: F405
# A second connection to the test database, standing in for a streaming replica. The router
# leaves it alone unless a test lists it in DATABASE_REPLICA_ALIASES (tests/test_db_router.py).
DATABASES["replica1"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
DATABASE_REPLICA_ALIASES = []
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
# The suite's many requests from one address stay under every limit; test_ratelimits sets 1.
RATELIMIT_SCALE = 1000
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
STATIC_ROOT = None  # WhiteNoise serves from the app folders (WHITENOISE_USE_FINDERS)
WHITENOISE_USE_FINDERS = True
CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
# Absolute links as the test client's own host, so that tests can follow them.
SHOP_PUBLIC_URL = "http://testserver"
READYZ_CACHE_SECONDS = 0  # every /readyz checks again; shop/tests/test_health.py sets 1
