"""Placing an order once per Idempotency-Key, whether the API or the storefront asks.

Both recognise a key's request by the same normalised details (place_order_once), so a retry
that differs only in how the input was written replays the order instead of being a 422.
"""

import re

import pytest

from catalog.models import Product
from catalog.tests.factories import ProductFactory
from orders.models import Order

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+44 20 7946 0958",
}
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def lamp(db):
    return ProductFactory(title="Brass Desk Lamp", price="45.50", stock=8)


def _body(*, email: str = "ada@example.com", **address: str) -> dict:
    return {
        "email": email,
        "shipping_address": {**ADDRESS, **address},
        "payment": {"method": "cod"},
    }


def _place(client, body: dict, *, key: str):
    return client.post(
        "/api/v1/orders/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_an_api_retry_written_differently_but_meaning_the_same_replays_the_order(client, lamp):
    client.post("/cart/add/", {"product_id": lamp.pk, "quantity": 1})
    first = _place(client, _body(), key="k1")
    retry = _body(email="Ada@Example.com", country="gb", name=" Ada Lovelace ")
    again = _place(client, retry, key="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Order.objects.count() == 1
    assert Product.objects.get(pk=lamp.pk).stock == 7


def test_the_api_replays_the_order_the_checkout_form_placed_with_the_same_key(client, lamp):
    client.post("/cart/add/", {"product_id": lamp.pk, "quantity": 1})
    key = KEY.search(client.get("/orders/checkout/").content.decode()).group(1)
    form = {
        "email": "ada@example.com",
        **ADDRESS,
        "country": "gb",
        "payment_method": "cod",
        "idempotency_key": key,
    }
    placed = client.post("/orders/checkout/", form)
    number = placed["Location"].split("/")[2]

    replay = _place(client, _body(email="Ada@Example.com"), key=key)

    assert replay.status_code == 201
    assert replay.json()["number"] == number
    assert Order.objects.count() == 1
