"""Redis with automatic failover (issue 13): the shop through a real Sentinel group.

A master, a replica and three sentinels on 127.0.0.1 (tests/redis_sentinel.py); the shop runs in
a gunicorn child configured by REDIS_SENTINELS alone, Celery in another by
REDIS_SENTINEL_BROKER_DB. The master is killed with SIGKILL while a shopper keeps adding to the
cart: no request fails meanwhile (the database stands in), writes reach Redis again within a
bound, and nothing acknowledged is lost: no cart line, session, sign-out or queued task.
One failover for all of it: a group takes seconds to form and to fail over.
"""

import json
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import redis
import requests
from django.conf import settings as django_settings

from carts.models import CartLine
from catalog.tests.factories import ProductFactory
from shop import cache_failover
from shop.accounts.tests.factories import UserFactory
from tests.fixtures import (
    ROOT,
    clean_environment,
    gunicorn,
    process_environment,
    run_manage,
    service_unavailable,
)
from tests.redis_sentinel import MASTER_NAME, SentinelGroup, sentinel_group

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(300)]

PREFIX = "shoptest_sentinel"
# From the kill until a cart write lands in Redis again (issue 13's drill asks for 10 s); with
# down-after 1 s, failovers here took about 2-4 s.
RECOVERY_BOUND_SECONDS = 10


@pytest.fixture
def group(tmp_path):
    if shutil.which("redis-server") is None:
        service_unavailable("needs redis-server (Debian's redis-server, which runs sentinels too)")
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


# A Celery producer and consumer with the shop's settings (REDIS_SENTINEL_BROKER_DB): a task
# message sent before the kill, then one after the failover, and both received.
BROKER_CHILD = """
import json, sys
import django
django.setup()
from config.celery import app
def send(order):
    with app.connection_for_write() as connection:
        connection.SimpleQueue("sentinel-test").put({"order": order})
send("before")
print("sent", flush=True)
sys.stdin.readline()  # the parent's go, after the failover
send("after")
with app.connection_for_read() as connection:
    queue = connection.SimpleQueue("sentinel-test")
    print(json.dumps([queue.get(timeout=10).payload["order"] for _ in range(2)]))
"""


def _broker_child(group: SentinelGroup) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", BROKER_CHILD],
        cwd=ROOT,
        env=_shop_environment(group, REDIS_SENTINEL_BROKER_DB="1"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline() == "sent\n", child.communicate()[1]
    return child


def _queue_length(url: str) -> float:
    metrics = requests.get(f"{url}/metrics", timeout=30).text
    line = next(line for line in metrics.splitlines() if line.startswith("shop_celery_queue_"))
    return float(line.rsplit(" ", 1)[1])


def _sign_in(url: str) -> requests.Session:
    """A signed-in API client (a device of its own: one token per sign-in)."""
    client = requests.Session()
    answer = client.post(
        f"{url}/api/v1/auth/login/",
        json={"email": "ada@example.com", "password": "pw-Ada-1234"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    client.headers["Authorization"] = f"Token {answer.json()['token']}"
    return client


def _me(client: requests.Session, url: str) -> int:
    return client.get(f"{url}/api/v1/auth/me/", timeout=30).status_code


def test_killing_the_redis_master_loses_no_cart_line_session_sign_out_or_task(
    postgres, group, tmp_path, settings
):
    products = ProductFactory.create_batch(30, stock=100)
    # A hash the child's settings can check (the test settings' MD5 is not among them).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    UserFactory(email="ada@example.com", password="pw-Ada-1234")
    # The web's /metrics reports the broker's queue (shop_celery_queue_length) through Sentinel.
    web_environment = _shop_environment(
        group, REDIS_SENTINEL_BROKER_DB="1", CELERY_QUEUE="sentinel-test"
    )
    with gunicorn("--workers", "2", env=web_environment, log=tmp_path / "web.log") as web:
        guest, laptop, phone = requests.Session(), _sign_in(web.url), _sign_in(web.url)
        for product in products[:5]:
            for shopper in (guest, laptop):
                assert _add(shopper, web.url, product.pk).status_code == 200
        assert _me(phone, web.url) == 200  # its token is in the cache now
        assert all(_in_redis(group, product.pk) for product in products[:5])
        acknowledged = [product.pk for product in products[:5]]
        broker = _broker_child(group)
        assert group.master(db=1).llen("sentinel-test") == 1  # REDIS_SENTINEL_BROKER_DB: 1
        assert _queue_length(web.url) == 1

        killed = time.monotonic()
        group.kill_master()
        # Signed out while no master answers: the token is gone from the database only.
        assert phone.post(f"{web.url}/api/v1/auth/logout/", timeout=30).status_code == 204
        recovered = None
        for product in products[5:]:
            answer = _add(guest, web.url, product.pk)
            assert answer.status_code == 200, answer.text  # the database stands in meanwhile
            acknowledged.append(product.pk)
            if _in_redis(group, product.pk):
                recovered = time.monotonic() - killed
                break
            time.sleep(0.2)

        assert recovered is not None, "the cart never reached the new master"
        assert recovered < RECOVERY_BOUND_SECONDS, recovered
        # The guest's session still holds its cart, whole, changes made during the failover
        # included; the laptop is still signed in with its cart; the phone's sign-out holds.
        assert _cart(guest, web.url) == dict.fromkeys(acknowledged, 1)
        assert _cart(laptop, web.url) == dict.fromkeys(acknowledged[:5], 1)
        assert _me(phone, web.url) == 401
        in_database = CartLine.objects.filter(cart__owner=None).values_list("product_id", flat=True)
        assert sorted(in_database) == sorted(acknowledged)
        assert all(_in_redis(group, pk) for pk in acknowledged)  # Redis serves it again
        # The broker's queue survived on the promoted replica, and takes new messages there.
        assert _queue_length(web.url) == 1
        received, errors = broker.communicate(input="go\n", timeout=60)
        assert broker.returncode == 0, errors
        assert json.loads(received) == ["before", "after"]


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


def test_a_sentinel_without_a_port_refuses_to_start():
    env = clean_environment(DATABASE_URL="sqlite:///:memory:", REDIS_SENTINELS="10.77.0.11")
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "REDIS_SENTINELS takes host:port entries, not '10.77.0.11'" in result.stderr


def test_a_sentinel_broker_in_the_cache_database_refuses_to_start():
    env = clean_environment(
        DATABASE_URL="sqlite:///:memory:",
        REDIS_SENTINELS="10.77.0.11:26379",
        REDIS_SENTINEL_BROKER_DB="0",
    )
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "REDIS_SENTINEL_BROKER_DB must differ from REDIS_DB" in result.stderr


def test_the_cache_database_is_emptied_once_per_master(redis_cache):
    """What a process does before it first uses a master (shop/cache_failover.py)."""
    url = urlsplit(django_settings.TEST_REDIS_URL)
    address, db = (url.hostname, url.port or 6379), int(url.path.lstrip("/") or 0)
    store = redis.Redis(host=address[0], port=address[1], db=db)
    store.delete(cache_failover.MARK)
    store.set("from-before", "1")
    cache_failover._empty_once(address, {"db": db})
    assert store.get("from-before") is None
    store.set("since", "1")
    cache_failover._empty_once(address, {"db": db})  # the same master: nothing to forget
    assert store.get("since") == b"1"
