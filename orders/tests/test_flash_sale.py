"""Races on real PostgreSQL, in real threads: each buyer has its own connection and cart."""

import threading

import pytest
from django.db import connections
from django.db.models import Sum
from rest_framework.test import APIClient

from catalog.models import Product, StockMovement
from catalog.tests.factories import ProductFactory
from orders.models import Order, OrderLine
from orders.tests.actions import add_to_cart, order_body
from shop.accounts.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def _buyer(number: int) -> APIClient:
    user = UserFactory(email=f"buyer{number}@example.com", password="x")
    client = APIClient()
    client.force_authenticate(user)
    return client


def _all_at_once(calls) -> list:
    """Run every call in its own thread, released together; return their results in order."""
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            start.wait()
            results[index] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.slow
def test_a_flash_sale_sells_exactly_the_stock_and_no_more(postgres):
    units, buyers = 5, 24
    hot = ProductFactory(title="Limited Sneaker", stock=units, price="99.00")
    spare = ProductFactory(title="Laces", stock=1000, price="2.00")
    clients = [_buyer(n) for n in range(buyers)]
    for n, client in enumerate(clients):
        # Half the carts also hold the laces, added in the opposite order: locks are taken in
        # product-id order whatever the cart's, so no two checkouts can deadlock.
        products = [hot] if n % 2 else [spare, hot]
        for product in products:
            add_to_cart(client, product, 1)
    responses = _all_at_once(
        [lambda c=c: c.post("/api/v1/orders/", order_body(), format="json") for c in clients]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * units + [409] * (buyers - units)
    for refused in (r for r in responses if r.status_code == 409):
        body = refused.json()
        assert body["code"] == "out_of_stock"
        assert "'Limited Sneaker': 0 left, 1 wanted" in body["detail"]
    assert Product.objects.get(pk=hot.pk).stock == 0
    assert OrderLine.objects.filter(product=hot).aggregate(sold=Sum("quantity"))["sold"] == units
    assert Order.objects.count() == units
    sold = StockMovement.objects.filter(product=hot).aggregate(change=Sum("change"))["change"]
    assert sold == -units
    laces_sold = OrderLine.objects.filter(product=spare).aggregate(n=Sum("quantity"))["n"] or 0
    assert Product.objects.get(pk=spare.pk).stock == 1000 - laces_sold


def test_two_identical_requests_racing_with_one_key_place_one_order(postgres):
    lamp = ProductFactory(stock=10)
    client = _buyer(0)
    add_to_cart(client, lamp, 2)
    body = order_body()
    responses = _all_at_once(
        [
            lambda: client.post(
                "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="race"
            ),
            lambda: client.post(
                "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="race"
            ),
        ]
    )
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json()["number"] == responses[1].json()["number"]
    assert Order.objects.count() == 1
    assert Product.objects.get(pk=lamp.pk).stock == 8
