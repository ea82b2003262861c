"""Placing an order once per Idempotency-Key, whether the API or the storefront asks.

Both recognise a key's request by the same normalised details (place_order_once), so a retry
that differs only in how the input was written replays the order instead of being a 422.
"""

import pytest

from catalog.models import Product
from orders.models import Order
from orders.tests.actions import CHECKOUT_KEY, add_to_cart, order_body

pytestmark = pytest.mark.django_db


def _place(client, body: dict, *, key: str):
    return client.post(
        "/api/v1/orders/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_an_api_retry_written_differently_but_meaning_the_same_replays_the_order(api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    first = _place(api_client, order_body(method="cod"), key="k1")
    retry = order_body(method="cod", email="Ada@Example.com")
    retry["shipping_address"].update(country="gb", name=" Ada Lovelace ")
    again = _place(api_client, retry, key="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Order.objects.count() == 1
    assert Product.objects.get(pk=lamp.pk).stock == 7


def test_the_api_replays_the_order_the_checkout_form_placed_with_the_same_key(client, lamp):
    client.post("/cart/add/", {"product_id": lamp.pk, "quantity": 1})
    key = CHECKOUT_KEY.search(client.get("/orders/checkout/").content.decode()).group(1)
    body = order_body(method="cod")
    form = {"email": body["email"], **body["shipping_address"], "payment_method": "cod"}
    placed = client.post("/orders/checkout/", {**form, "idempotency_key": key})
    number = placed["Location"].split("/")[2]

    replay = _place(client, order_body(method="cod", email="Ada@Example.com"), key=key)

    assert replay.status_code == 201
    assert replay.json()["number"] == number
    assert Order.objects.count() == 1


def test_a_key_claimed_before_the_normalised_fingerprint_replays_its_order(api_client, lamp):
    from orders.models import IdempotencyKey

    add_to_cart(api_client, lamp, 1)
    first = _place(api_client, order_body(method="cod"), key="k1")
    # As a release before issue 14 kept it: a bare SHA-256 of the request as it was sent.
    IdempotencyKey.objects.update(request_digest="0" * 64)
    again = _place(api_client, order_body(method="cod"), key="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Order.objects.count() == 1


def test_a_key_used_again_with_other_details_is_refused(api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    _place(api_client, order_body(method="cod"), key="k1")
    other = _place(api_client, order_body(method="cod", email="grace@example.com"), key="k1")
    assert other.status_code == 422
    assert Order.objects.count() == 1
