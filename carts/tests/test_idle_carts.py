"""One idle-cart rule (carts.selectors.is_idle): an idle cart starts afresh, everywhere.

A cart unchanged past its idle lifetime (24 h for a guest, 30 days for an account) shows no
lines, takes its next line as a new cart, never brings its old lines back to checkout, merges
nothing at sign-in, and is swept; the sweeper deletes only what is still idle when it deletes.
"""

import threading
import time
from contextlib import nullcontext
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from carts import store
from carts.models import Cart, CartLine
from carts.selectors import lines_from_database
from carts.services import add_to_cart, delete_idle_carts
from carts.tests.actions import add, lines
from shop.customers import Customer
from tests.fixtures import DEAD_REDIS

pytestmark = pytest.mark.django_db

ACCOUNT_IDLE = timedelta(days=30, hours=1)
GUEST_IDLE = timedelta(hours=25)


def _age(cart_pk: int, by: timedelta) -> None:
    """Make the cart unchanged for `by`, and gone from Redis, as its expiry there would do."""
    Cart.objects.filter(pk=cart_pk).update(updated_at=timezone.now() - by)
    store.drop(cart_pk)


@pytest.fixture
def account_client(shopper):
    client = APIClient()
    client.force_authenticate(shopper)
    return client


def _checkout_titles(cart_pk: int) -> list[str]:
    """The lines checkout would order (orders.services.place_order reads exactly these)."""
    return sorted(
        CartLine.objects.filter(
            cart_id=cart_pk, product_id__in=lines_from_database(cart_pk=cart_pk)
        ).values_list("product__title", flat=True)
    )


@pytest.mark.parametrize("redis", ["up", "down"])
def test_an_idle_account_cart_starts_afresh_and_its_old_lines_never_reach_checkout(
    redis_cache, account_client, shopper, kettle, mug, redis
):
    add(account_client, kettle, 2)
    _age(Cart.objects.get(owner=shopper).pk, ACCOUNT_IDLE)
    assert lines(account_client) == {}  # the page already hid them
    with override_settings(CACHES=DEAD_REDIS) if redis == "down" else nullcontext():
        assert add(account_client, mug, 1).status_code == 200
        assert lines(account_client) == {"Stoneware Mug": 1}
    assert dict(CartLine.objects.values_list("product__title", "quantity")) == {"Stoneware Mug": 1}
    assert _checkout_titles(Cart.objects.get(owner=shopper).pk) == ["Stoneware Mug"]


def test_an_idle_guest_cart_starts_afresh(redis_cache, api_client, kettle, mug):
    add(api_client, kettle, 3)
    _age(Cart.objects.get().pk, GUEST_IDLE)
    add(api_client, mug, 1)
    assert lines(api_client) == {"Stoneware Mug": 1}
    assert _checkout_titles(Cart.objects.get().pk) == ["Stoneware Mug"]


def test_an_idle_cart_takes_the_same_product_again_from_zero(
    redis_cache, account_client, shopper, kettle
):
    add(account_client, kettle, 4)
    _age(Cart.objects.get(owner=shopper).pk, ACCOUNT_IDLE)
    add(account_client, kettle, 1)
    assert lines(account_client) == {"Copper Kettle": 1}
    assert CartLine.objects.get().quantity == 1


def test_a_cart_reloaded_into_redis_expires_there_when_it_goes_idle(
    redis_cache, account_client, shopper, kettle
):
    add(account_client, kettle, 1)
    cart = Cart.objects.get(owner=shopper)
    _age(cart.pk, timedelta(days=29))
    assert lines(account_client) == {"Copper Kettle": 1}  # reloaded from the database
    ttl = get_redis_connection("default").ttl(store._key(cart.pk))
    assert 23 * 3600 < ttl <= 24 * 3600  # the day it has left, not a fresh 30 days


def test_signing_in_merges_nothing_from_an_idle_guest_cart_into_an_idle_account_cart(
    api_client, shopper, kettle, mug, django_capture_on_commit_callbacks
):
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=kettle.pk, quantity=2)
    Cart.objects.filter(owner=shopper).update(updated_at=timezone.now() - ACCOUNT_IDLE)
    add(api_client, mug, 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/auth/login/",
            {"email": shopper.email, "password": "pw-Ada-1234"},
            format="json",
        )
    assert response.status_code == 200
    assert lines(api_client) == {"Stoneware Mug": 1}  # the guest's line, not the idle kettle


def test_an_idle_guest_cart_brings_nothing_to_the_account_at_sign_in(
    api_client, shopper, kettle, django_capture_on_commit_callbacks
):
    add(api_client, kettle, 2)
    Cart.objects.filter(owner=None).update(updated_at=timezone.now() - GUEST_IDLE)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            "/api/v1/auth/login/",
            {"email": shopper.email, "password": "pw-Ada-1234"},
            format="json",
        )
    assert lines(api_client) == {}


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_the_sweeper_keeps_a_cart_touched_while_it_runs(postgres, redis_cache, shopper, kettle):
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=kettle.pk, quantity=2)
    cart = Cart.objects.get(owner=shopper)
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now() - ACCOUNT_IDLE)
    touched, release = threading.Event(), threading.Event()

    def shopper_adds() -> None:
        # A shopper's write in flight: the cart is touched, not yet committed.
        try:
            with transaction.atomic():
                Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
                touched.set()
                release.wait(10)
        finally:
            connection.close()

    swept: list = []

    def sweeper() -> None:
        try:
            swept.append(delete_idle_carts())
        except Exception as error:  # reported below as the test's failure
            swept.append(error)
        finally:
            connection.close()

    writer = threading.Thread(target=shopper_adds)
    writer.start()
    assert touched.wait(10)
    sweeping = threading.Thread(target=sweeper)
    sweeping.start()
    _wait_until_done_or_blocked(sweeping)
    release.set()
    writer.join(10)
    sweeping.join(10)
    assert swept == [0]
    assert Cart.objects.filter(pk=cart.pk).exists()
    assert CartLine.objects.get(cart_id=cart.pk).quantity == 2


def test_the_sweeper_still_deletes_idle_carts_and_forgets_them_in_redis(
    redis_cache, api_client, shopper, kettle, django_capture_on_commit_callbacks
):
    add(api_client, kettle, 1)
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=kettle.pk, quantity=1)
    guest, account = Cart.objects.get(owner=None), Cart.objects.get(owner=shopper)
    Cart.objects.filter(pk=guest.pk).update(updated_at=timezone.now() - GUEST_IDLE)
    Cart.objects.filter(pk=account.pk).update(updated_at=timezone.now() - ACCOUNT_IDLE)
    with django_capture_on_commit_callbacks(execute=True):
        assert delete_idle_carts() == 2
    assert not Cart.objects.exists()
    assert not CartLine.objects.exists()
    assert store.read(guest.pk) is None
    assert store.read(account.pk) is None


def _wait_until_done_or_blocked(thread: threading.Thread, seconds: float = 10) -> None:
    """Wait until `thread` ends or another session of this database waits for a lock."""
    deadline = time.monotonic() + seconds
    with connections["default"].cursor() as cursor:
        while thread.is_alive() and time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
