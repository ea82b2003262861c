"""The cart's three caps, each held by both stores: the units in stock, CART_LINE_MAX_QUANTITY per
line and CART_MAX_LINES lines. Redis enforces them in its Lua scripts (carts/store.py), the
database path in _add_units_in_database and _set_units_in_database (carts/services.py) when Redis
is away, and the guest-cart merge caps what it sums. A refusal is a 409 that changes neither store.
"""

from contextlib import nullcontext

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from carts.exceptions import LineLimitReached
from carts.models import CartLine
from carts.services import add_to_cart, set_line_quantity
from carts.tests.actions import add, lines
from catalog.tests.factories import ProductFactory
from shop.customers import Customer
from tests.fixtures import DEAD_REDIS

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["redis", "database"])
def store_path(request, redis_cache):
    """Run the test with Redis up (its scripts), or down (the database's row locks)."""
    return request.param


def _on(store_path: str):
    return override_settings(CACHES=DEAD_REDIS) if store_path == "database" else nullcontext()


def _patch(client, product, quantity: int):
    return client.patch(f"/api/v1/cart/items/{product.pk}/", {"quantity": quantity}, format="json")


def _unchanged(client, expected: dict[str, int]) -> None:
    assert lines(client) == expected
    assert dict(CartLine.objects.values_list("product__title", "quantity")) == expected


def test_adding_past_the_stock_is_refused(api_client, kettle, store_path):
    add(api_client, kettle, 4)
    with _on(store_path):
        response = add(api_client, kettle, 2)
        assert (response.status_code, response.json()["code"]) == (409, "not_enough_stock")
        _unchanged(api_client, {"Copper Kettle": 4})


def test_setting_past_the_stock_is_refused(api_client, kettle, store_path):
    add(api_client, kettle, 1)
    with _on(store_path):
        response = _patch(api_client, kettle, 6)
        assert (response.status_code, response.json()["code"]) == (409, "not_enough_stock")
        _unchanged(api_client, {"Copper Kettle": 1})


def test_adding_past_the_line_maximum_is_refused(api_client, mug, store_path, settings):
    settings.CART_LINE_MAX_QUANTITY = 3
    add(api_client, mug, 2)
    with _on(store_path):
        response = add(api_client, mug, 2)
        assert (response.status_code, response.json()["code"]) == (409, "line_limit_reached")
        _unchanged(api_client, {"Stoneware Mug": 2})


def test_setting_past_the_line_maximum_is_refused(api_client, mug, store_path, settings):
    settings.CART_LINE_MAX_QUANTITY = 3
    add(api_client, mug, 2)
    guest = Customer(user=AnonymousUser(), session=api_client.session)
    with _on(store_path):
        # Through the service: the API's input refuses a quantity past the line maximum first
        # (test_cart_api.py::test_a_quantity_past_the_line_maximum_is_a_400_as_the_setting_reads).
        with pytest.raises(LineLimitReached) as refusal:
            set_line_quantity(customer=guest, product_pk=mug.pk, quantity=4)
        assert (refusal.value.status_code, refusal.value.code) == (409, "line_limit_reached")
        _unchanged(api_client, {"Stoneware Mug": 2})


def test_a_product_past_the_line_count_is_refused(api_client, kettle, mug, store_path, settings):
    settings.CART_MAX_LINES = 2
    lamp = ProductFactory(title="Brass Lamp")
    add(api_client, kettle, 1)
    add(api_client, mug, 1)
    with _on(store_path):
        response = add(api_client, lamp, 1)
        assert response.status_code == 409
        assert response.json() == {
            "detail": "Your cart already holds 2 different products.",
            "code": "cart_full",
        }
        assert add(api_client, mug, 1).status_code == 200  # a line it holds still grows
        _unchanged(api_client, {"Copper Kettle": 1, "Stoneware Mug": 2})


# The three caps, each enforced in three places (carts/services.py names them too):
#   1. Redis's Lua scripts (carts/store.py: _ADD and _SET), given the line's cap (the stock or
#      CART_LINE_MAX_QUANTITY, whichever is lower) and CART_MAX_LINES: store_path "redis";
#   2. the database path when Redis is away (carts/services.py: _add_units_in_database and
#      _set_units_in_database): store_path "database";
#   3. the guest-cart merge at sign-in (carts/services.py: merge_guest_cart), which caps the sum
#      rather than refusing it.
# Each rule runs in each place: a place that stops enforcing a rule fails that case.
CAPS = {
    # rule: (lines held, (product, units) added, the refusal's code, the cart after a merge)
    "stock": ({"Brass Lamp": 1}, ("Brass Lamp", 2), "not_enough_stock", {"Brass Lamp": 2}),
    "line maximum": (
        {"Stoneware Mug": 2},
        ("Stoneware Mug", 2),
        "line_limit_reached",
        {"Stoneware Mug": 3},
    ),
    "line count": (
        {"Copper Kettle": 1, "Stoneware Mug": 1},
        ("Brass Lamp", 1),
        "cart_full",
        {"Copper Kettle": 1, "Stoneware Mug": 1},
    ),
}


@pytest.fixture
def capped(settings, kettle, mug) -> dict:
    """Caps small enough to reach: 3 units a line, 2 lines, and a lamp with 2 in stock."""
    settings.CART_LINE_MAX_QUANTITY, settings.CART_MAX_LINES = 3, 2
    lamp = ProductFactory(title="Brass Lamp", stock=2)
    return {product.title: product for product in (kettle, mug, lamp)}


@pytest.mark.parametrize("rule", CAPS)
def test_each_cap_refuses_a_change_on_both_stores(api_client, capped, store_path, rule):
    held, (title, units), code, _ = CAPS[rule]
    for held_title, quantity in held.items():
        add(api_client, capped[held_title], quantity)
    with _on(store_path):
        response = add(api_client, capped[title], units)
        assert (response.status_code, response.json()["code"]) == (409, code)
        _unchanged(api_client, held)


@pytest.mark.parametrize("rule", CAPS)
def test_each_cap_holds_in_the_guest_cart_merge(
    api_client, shopper, capped, django_capture_on_commit_callbacks, rule
):
    held, (title, units), _, merged = CAPS[rule]
    account = Customer(user=shopper, session=None)
    for held_title, quantity in held.items():
        add_to_cart(customer=account, product_pk=capped[held_title].pk, quantity=quantity)
    assert add(api_client, capped[title], units).status_code == 200  # the guest's cart
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/auth/login/",
            {"email": shopper.email, "password": "pw-Ada-1234"},
            format="json",
        )
    assert response.status_code == 200
    _unchanged(api_client, merged)
