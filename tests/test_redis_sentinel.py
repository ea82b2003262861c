"""Redis with automatic failover (issue 13): the shop through a real Sentinel group.

A master, a replica and three sentinels on 127.0.0.1 (tests/redis_sentinel.py); the shop runs in
a gunicorn child configured by REDIS_SENTINELS alone. The master is killed with SIGKILL while a
shopper keeps adding to the cart: no request fails meanwhile (the database stands in), writes
reach Redis again within a bound, and nothing acknowledged is lost, in Redis or in SQL.
"""

import json
import shutil
import subprocess
import sys
import time

import pytest
import redis
import requests
from django.contrib.auth import get_user_model

from carts.models import CartLine
from catalog.tests.factories import ProductFactory
from tests.fixtures import (
    ROOT,
    _unavailable,
    clean_environment,
    gunicorn,
    process_environment,
    run_manage,
)
from tests.redis_sentinel import MASTER_NAME, SentinelGroup, sentinel_group

pytestmark = pytest.mark.django_db(transaction=True)

PREFIX = "shoptest_sentinel"
# From the kill until a cart write lands in Redis again (issue 13's drill asks for 10 s); with
# down-after 1 s, failovers here took about 2-4 s.
RECOVERY_BOUND_SECONDS = 10


@pytest.fixture
def group(tmp_path):
    if shutil.which("redis-server") is None:
        _unavailable("needs redis-server (Debian's redis-server, which runs sentinels too)")
    with sentinel_group(tmp_path / "redis") as started:
        yield started


def _shop_environment(group: SentinelGroup, **extra: str) -> dict[str, str]:
    env = process_environment(
        REDIS_SENTINELS=group.sentinel_addresses,
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        CACHE_KEY_PREFIX=PREFIX,
        RATELIMIT_ENABLE="0",
        **extra,
    )
    del env["REDIS_URL"]  # the sentinels alone say where Redis is
    env.pop("CELERY_BROKER_URL", None)
    return env


def _add(session: requests.Session, url: str, product_pk: int) -> requests.Response:
    return session.post(
        f"{url}/api/v1/cart/items/", json={"product_id": product_pk, "quantity": 1}, timeout=30
    )


def _cart(session: requests.Session, url: str) -> dict[int, int]:
    answer = session.get(f"{url}/api/v1/cart/", timeout=30)
    assert answer.status_code == 200, answer.text
    return {item["product_id"]: item["quantity"] for item in answer.json()["items"]}


def _in_redis(group: SentinelGroup, product_pk: int) -> bool:
    """Whether the master the sentinels name now holds a cart line for `product_pk`."""
    try:
        master = group.master()
        return any(
            master.hexists(key, f"q:{product_pk}") for key in master.keys(f"{PREFIX}:cart:*")
        )
    except redis.RedisError:  # no master yet, or the dead one still named
        return False


def test_killing_the_redis_master_loses_no_cart_line_or_session(
    postgres, group, tmp_path, settings
):
    products = ProductFactory.create_batch(30, stock=100)
    # A hash the child's settings can check (the test settings' MD5 is not among them).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    get_user_model().objects.create_user(email="ada@example.com", password="pw-Ada-1234")
    with gunicorn("--workers", "2", env=_shop_environment(group), log=tmp_path / "web.log") as web:
        guest, member = requests.Session(), requests.Session()
        signed_in = member.post(
            f"{web.url}/api/v1/auth/login/",
            json={"email": "ada@example.com", "password": "pw-Ada-1234"},
            timeout=30,
        )
        assert signed_in.status_code == 200, signed_in.text
        member.headers["Authorization"] = f"Token {signed_in.json()['token']}"
        for product in products[:5]:
            for shopper in (guest, member):
                assert _add(shopper, web.url, product.pk).status_code == 200
        assert all(_in_redis(group, product.pk) for product in products[:5])
        acknowledged = [product.pk for product in products[:5]]

        killed = time.monotonic()
        group.kill_master()
        recovered = None
        for product in products[5:]:
            answer = _add(guest, web.url, product.pk)
            assert answer.status_code == 200, answer.text  # the database stands in meanwhile
            acknowledged.append(product.pk)
            if _in_redis(group, product.pk):
                recovered = time.monotonic() - killed
                break
            time.sleep(0.2)

        assert recovered is not None and recovered < RECOVERY_BOUND_SECONDS, recovered
        assert _cart(guest, web.url) == dict.fromkeys(acknowledged, 1)
        assert _cart(member, web.url) == dict.fromkeys(acknowledged[:5], 1)
        # The guest's session (it holds the cart) and the member's token still name them, and
        # the new master's copy of each cart is whole: nothing came back from SQL alone.
        master = group.master()
        assert master.keys(f"{PREFIX}:*sessions*"), "the guest's session is not on the new master"
        in_database = CartLine.objects.filter(cart__owner=None).values_list("product_id", flat=True)
        assert sorted(in_database) == sorted(acknowledged)
        assert all(_in_redis(group, pk) for pk in acknowledged)


BROKER_CHILD = """
import json, sys
import django
django.setup()
from config.celery import app
queue = "sentinel-test"
with app.connection_for_write() as connection:
    simple = connection.SimpleQueue(queue)
    if sys.argv[1] == "put":
        simple.put({"order": sys.argv[2]})
    else:
        orders = [simple.get(timeout=10).payload["order"] for _ in range(int(sys.argv[2]))]
        print(json.dumps(orders))
    simple.close()
"""


def _broker(group: SentinelGroup, *arguments: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-c", BROKER_CHILD, *arguments],
        cwd=ROOT,
        env=_shop_environment(group, REDIS_SENTINEL_BROKER_DB="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def _master_port(group: SentinelGroup) -> int | None:
    try:
        return group.master_port()
    except redis.RedisError:  # MasterNotFoundError: the master is down, none promoted yet
        return None


def test_the_celery_broker_follows_a_failover_and_keeps_queued_messages(group):
    _broker(group, "put", "before")
    assert group.master(db=1).llen("sentinel-test") == 1  # REDIS_SENTINEL_BROKER_DB: 1
    killed_port = group.kill_master()

    deadline = time.monotonic() + RECOVERY_BOUND_SECONDS
    while _master_port(group) in (killed_port, None):
        assert time.monotonic() < deadline, "no failover"
        time.sleep(0.2)
    _broker(group, "put", "after")

    assert json.loads(_broker(group, "get", "2").stdout) == ["before", "after"]


SHOW_SETTINGS = (
    "from django.conf import settings as s; import json; print(json.dumps([s.CELERY_BROKER_URL,"
    " s.CELERY_BROKER_TRANSPORT_OPTIONS['master_name'], s.CACHES['default']['LOCATION']]))"
)


def test_the_sentinel_settings_name_the_master_for_the_cache_and_the_broker():
    env = clean_environment(
        DATABASE_URL="sqlite:///:memory:",
        REDIS_SENTINELS="10.77.0.11:26379,10.77.0.12:26379",
        REDIS_SENTINEL_MASTER="orders",
        REDIS_DB="2",
        REDIS_SENTINEL_BROKER_DB="3",
    )
    result = run_manage("shell", "-v0", "-c", SHOW_SETTINGS, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "sentinel://10.77.0.11:26379/3;sentinel://10.77.0.12:26379/3",
        "orders",
        ["redis://orders/2"],
    ]


def test_a_sentinel_broker_without_sentinels_refuses_to_start():
    env = clean_environment(DATABASE_URL="sqlite:///:memory:", REDIS_SENTINEL_BROKER_DB="1")
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "REDIS_SENTINEL_BROKER_DB needs REDIS_SENTINELS" in result.stderr
