"""Two processes adding to one cart at once: no increment may be lost, in Redis or in SQL."""

import subprocess
import sys

import pytest
from django.conf import settings

from carts import store
from carts.models import CartLine
from carts.services import add_to_cart
from shop.customers import Customer
from tests.fixtures import process_environment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ADDS_PER_PROCESS = 40

CHILD = """
import sys
import django
django.setup()
from django.contrib.auth import get_user_model
from carts.services import add_to_cart
from shop.customers import Customer
from tests.fixtures import process_environment

user = get_user_model().objects.get(pk=int(sys.argv[1]))
sys.stdin.read()  # wait for the parent's go, so that both processes add at once
for _ in range(int(sys.argv[3])):
    add_to_cart(customer=Customer(user=user, session=None), product_pk=int(sys.argv[2]), quantity=1)
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["redis", "database"])
def test_two_processes_adding_at_once_lose_no_increment(postgres, redis_cache, shopper, mug, path):
    mug.stock = 1000
    mug.save()
    add_to_cart(customer=Customer(user=shopper, session=None), product_pk=mug.pk, quantity=1)
    redis_url = settings.REDIS_URL if path == "redis" else "redis://127.0.0.1:1/0"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(shopper.pk), str(mug.pk), str(ADDS_PER_PROCESS)],
            env=process_environment(REDIS_URL=redis_url, CART_LINE_MAX_QUANTITY="1000"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [child.communicate(input="go", timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    expected = 1 + 2 * ADDS_PER_PROCESS
    assert CartLine.objects.get(cart__owner=shopper).quantity == expected
    if path == "redis":
        cart_pk = CartLine.objects.get(cart__owner=shopper).cart_id
        assert store.read(cart_pk)[mug.pk].quantity == expected
