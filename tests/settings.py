"""Test settings: the real PostgreSQL and Redis when reachable, else SQLite and memory.

`.ci/run` exports SHOP_REQUIRE_SERVICES=1, under which a test that needs PostgreSQL or Redis and
cannot have it fails instead of skipping (tests/conftest.py).
"""

import os
import socket
from urllib.parse import urlsplit

from config.settings import *  # noqa: F403

import environ

env = environ.Env()


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


_pg_host = os.environ.get("PGHOST", "127.0.0.1")
_pg_port = int(os.environ.get("PGPORT", "5432"))
if "DATABASE_URL" in os.environ:
    DATABASES = {"default": env.db("DATABASE_URL")}
elif _reachable(_pg_host, _pg_port):
    _pg_user = os.environ.get("PGUSER", "postgres")
    DATABASES = {"default": env.db_url_config(f"postgres://{_pg_user}@{_pg_host}:{_pg_port}/shop")}
else:
    DATABASES = {"default": env.db_url_config("sqlite:///:memory:")}

_redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
_redis = urlsplit(_redis_url)
if _reachable(_redis.hostname or "127.0.0.1", _redis.port or 6379):
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": _redis_url,
            "KEY_PREFIX": "shoptest",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    TEST_REDIS_URL = _redis_url
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    TEST_REDIS_URL = None

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
STATIC_ROOT = None  # WhiteNoise serves from the app folders (WHITENOISE_USE_FINDERS)
WHITENOISE_USE_FINDERS = True
CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
