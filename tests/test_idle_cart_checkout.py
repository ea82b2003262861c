"""An idle account cart, not yet swept, never brings its old lines to an order."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from carts import store
from carts.models import Cart
from catalog.tests.factories import ProductFactory
from orders.tests.actions import add_to_cart, order_body

pytestmark = pytest.mark.django_db


def test_an_order_after_an_idle_cart_restarted_holds_only_the_new_line(redis_cache):
    kettle = ProductFactory(title="Copper Kettle", stock=5)
    mug = ProductFactory(title="Stoneware Mug", stock=5)
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user(email="ada@example.com"))
    add_to_cart(client, kettle, 2)
    cart = Cart.objects.get()
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now() - timedelta(days=31))
    store.drop(cart.pk)  # Redis let it expire with its idle lifetime
    add_to_cart(client, mug, 1)
    response = client.post("/api/v1/orders/", order_body(method="cod"), format="json")
    assert response.status_code == 201, response.json()
    assert [(line["title"], line["quantity"]) for line in response.json()["lines"]] == [
        ("Stoneware Mug", 1)
    ]
