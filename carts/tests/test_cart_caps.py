"""The cart's three caps, each held by both stores: the units in stock, CART_LINE_MAX_QUANTITY per
line and CART_MAX_LINES lines. Redis enforces them in its Lua scripts (carts/store.py), the
database path in _change_in_database (carts/services.py) when Redis is away. A refusal is a 409
that changes neither store.
"""

from contextlib import nullcontext

import pytest
from django.test import override_settings

from carts.models import CartLine
from carts.tests.actions import add, lines
from catalog.tests.factories import ProductFactory
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
    with _on(store_path):
        response = _patch(api_client, mug, 4)
        assert (response.status_code, response.json()["code"]) == (409, "line_limit_reached")
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
