"""The cart store's promises: fast reads, write-through, merge on sign-in, expiry."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_redis import get_redis_connection

from carts import store
from carts.models import Cart, CartLine
from carts.services import add_to_cart, delete_idle_carts
from carts.tests.actions import add, lines
from shop.accounts.tokens import issue_token
from shop.customers import Customer
from tests.fixtures import DEAD_REDIS

pytestmark = pytest.mark.django_db


# --- Speed (query counts) -------------------------------------------------------------------


def test_reading_a_guest_cart_runs_no_query(
    redis_cache, api_client, kettle, django_assert_num_queries
):
    add(api_client, kettle, 2)
    api_client.get("/api/v1/cart/")
    with django_assert_num_queries(0):
        assert api_client.get("/api/v1/cart/").json()["item_count"] == 2


def test_reading_a_signed_in_cart_runs_no_query(
    redis_cache, api_client, shopper, kettle, django_assert_num_queries
):
    api_client.force_login(shopper)
    add(api_client, kettle, 2)
    api_client.get("/api/v1/cart/")
    with django_assert_num_queries(0):
        assert api_client.get("/api/v1/cart/").json()["item_count"] == 2


def test_reading_a_cart_by_token_runs_no_query(
    redis_cache, api_client, shopper, kettle, django_assert_num_queries
):
    token = issue_token(user=shopper)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    add(api_client, kettle, 1)
    api_client.get("/api/v1/cart/")
    with django_assert_num_queries(0):
        assert api_client.get("/api/v1/cart/").json()["item_count"] == 1


def test_the_header_count_runs_no_query(redis_cache, client, kettle, django_assert_num_queries):
    client.post("/cart/add/", {"product_id": kettle.pk, "quantity": 2})
    client.get("/p/copper-kettle/")
    with django_assert_num_queries(0):
        page = client.get("/p/copper-kettle/").content.decode()
    assert "Cart, 2 items" in page


def test_adding_an_item_runs_at_most_two_statements(
    redis_cache, api_client, shopper, kettle, mug, django_assert_max_num_queries
):
    api_client.force_login(shopper)
    add(api_client, mug, 1)  # creates the cart
    add(api_client, kettle, 1)  # warms the product's offer
    with django_assert_max_num_queries(2):
        assert add(api_client, kettle, 1).status_code == 200


# --- Redis lost or down ---------------------------------------------------------------------


def test_a_flushed_redis_loses_neither_the_cart_nor_the_session(
    redis_cache, api_client, shopper, kettle, mug
):
    api_client.force_login(shopper)
    add(api_client, kettle, 2)
    add(api_client, mug, 3)
    get_redis_connection("default").flushdb()
    response = api_client.get("/api/v1/auth/me/")
    assert response.status_code == 200  # still signed in: the session came back from the database
    assert lines(api_client) == {"Copper Kettle": 2, "Stoneware Mug": 3}
    add(api_client, kettle, 1)
    assert lines(api_client) == {"Copper Kettle": 3, "Stoneware Mug": 3}


def test_a_guest_cart_survives_a_flushed_redis(redis_cache, api_client, kettle):
    add(api_client, kettle, 2)
    get_redis_connection("default").flushdb()
    assert lines(api_client) == {"Copper Kettle": 2}


def test_the_cart_works_on_the_database_while_redis_is_down(redis_cache, api_client, kettle, mug):
    add(api_client, kettle, 1)
    with override_settings(CACHES=DEAD_REDIS):
        assert add(api_client, kettle, 2).status_code == 200
        assert add(api_client, mug, 1).status_code == 200
        assert add(api_client, kettle, 9).status_code == 409  # the caps hold on the database too
        assert lines(api_client) == {"Copper Kettle": 3, "Stoneware Mug": 1}
    get_redis_connection("default").flushdb()  # Redis returns, empty: the database has it all
    assert lines(api_client) == {"Copper Kettle": 3, "Stoneware Mug": 1}


def test_every_change_is_written_through_to_the_database(redis_cache, api_client, kettle, mug):
    add(api_client, kettle, 2)
    add(api_client, mug, 4)
    api_client.patch(f"/api/v1/cart/items/{mug.pk}/", {"quantity": 1}, format="json")
    rows = dict(CartLine.objects.values_list("product__title", "quantity"))
    assert rows == {"Copper Kettle": 2, "Stoneware Mug": 1}


# --- Merge on sign-in -----------------------------------------------------------------------


def _sign_in(api_client, user) -> None:
    response = api_client.post(
        "/api/v1/auth/login/", {"email": user.email, "password": "pw-Ada-1234"}, format="json"
    )
    assert response.status_code == 200


def test_a_guest_cart_merges_into_the_account_at_sign_in(
    api_client, shopper, kettle, mug, django_capture_on_commit_callbacks
):
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=mug.pk, quantity=2)
    add(api_client, mug, 3)
    add(api_client, kettle, 1)
    with django_capture_on_commit_callbacks(execute=True):
        _sign_in(api_client, shopper)
    assert lines(api_client) == {"Copper Kettle": 1, "Stoneware Mug": 5}
    assert Cart.objects.get().owner == shopper  # the guest cart is gone


def test_a_merge_is_capped_by_stock_and_the_line_maximum(
    api_client, shopper, kettle, mug, django_capture_on_commit_callbacks
):
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=kettle.pk, quantity=4)
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=mug.pk, quantity=7)
    add(api_client, kettle, 3)  # 4 + 3 > 5 in stock
    add(api_client, mug, 6)  # 7 + 6 > 10 per line
    with django_capture_on_commit_callbacks(execute=True):
        _sign_in(api_client, shopper)
    assert lines(api_client) == {"Copper Kettle": 5, "Stoneware Mug": 10}


def test_signing_in_without_a_guest_cart_keeps_the_account_cart(
    api_client, shopper, kettle, django_capture_on_commit_callbacks
):
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=kettle.pk, quantity=2)
    with django_capture_on_commit_callbacks(execute=True):
        _sign_in(api_client, shopper)
    assert lines(api_client) == {"Copper Kettle": 2}


# --- Expiry ---------------------------------------------------------------------------------


def test_a_guest_cart_lives_24_hours_in_redis_and_an_account_cart_30_days(
    redis_cache, api_client, shopper, kettle
):
    add(api_client, kettle, 1)
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=kettle.pk, quantity=1)
    guest, account = Cart.objects.get(owner=None), Cart.objects.get(owner=shopper)
    redis = get_redis_connection("default")
    assert 23 * 3600 < redis.ttl(store._key(guest.pk)) <= 24 * 3600
    assert 29 * 86400 < redis.ttl(store._key(account.pk)) <= 30 * 86400


def test_a_guest_session_lasts_as_long_as_its_cart(api_client, kettle):
    add(api_client, kettle, 1)
    assert api_client.session.get_expiry_age() == 24 * 3600


def test_idle_carts_are_deleted_and_active_ones_kept(api_client, shopper, kettle):
    add(api_client, kettle, 1)
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=kettle.pk, quantity=1)
    guest, account = Cart.objects.get(owner=None), Cart.objects.get(owner=shopper)
    Cart.objects.filter(pk=guest.pk).update(updated_at=timezone.now() - timedelta(hours=25))
    Cart.objects.filter(pk=account.pk).update(updated_at=timezone.now() - timedelta(days=29))
    assert delete_idle_carts() == 1
    assert list(Cart.objects.all()) == [account]


def test_an_idle_guest_cart_is_not_rebuilt_after_redis_lost_it(redis_cache, api_client, kettle):
    add(api_client, kettle, 1)
    Cart.objects.update(updated_at=timezone.now() - timedelta(hours=25))
    get_redis_connection("default").flushdb()
    assert lines(api_client) == {}


@pytest.mark.django_db(transaction=True)  # foreign keys are checked at commit, as in production
def test_adding_after_a_guest_cart_was_swept_starts_a_new_one(redis_cache, api_client, kettle, mug):
    add(api_client, kettle, 1)
    Cart.objects.all().delete()
    get_redis_connection("default").flushdb()
    assert add(api_client, mug, 1).status_code == 200
    assert lines(api_client) == {"Stoneware Mug": 1}
