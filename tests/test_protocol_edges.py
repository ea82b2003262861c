"""Bad input and protocol edges (issue 11): each a 4xx with a JSON `detail` under /api/, the
shop's own page elsewhere, never a 500, and nothing changed. Hostile input of issue 6 lives in
tests/test_security.py; over-long request lines through a real gunicorn in
tests/test_request_line.py, and through nginx in tests/cluster/test_edge.py."""

import pytest

from carts.models import Cart, CartLine
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

UNKNOWN_HOST = "shop.attacker.example"


# --- An unknown Host header -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/search/?q=lamp", "/cart/", "/accounts/login/"])
def test_an_unknown_host_gets_the_plain_400_page_on_the_storefront(client, path):
    response = client.get(path, HTTP_HOST=UNKNOWN_HOST)

    assert response.status_code == 400
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>Bad request · Shop</title>" in response.content.decode()
    assert "Set-Cookie" not in response


@pytest.mark.parametrize("path", ["/api/v1/products/", "/api/v1/cart/", "/api/no-such-thing/"])
def test_an_unknown_host_gets_a_json_400_on_the_api(client, path):
    response = client.get(path, HTTP_HOST=UNKNOWN_HOST)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "This server does not serve the host named in the request.",
        "code": "unknown_host",
    }


def test_an_add_to_cart_for_an_unknown_host_changes_nothing(client):
    product = ProductFactory(stock=5)

    response = client.post(
        "/api/v1/cart/items/",
        {"product_id": product.pk, "quantity": 1},
        content_type="application/json",
        HTTP_HOST=UNKNOWN_HOST,
    )

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_host"
    assert not Cart.objects.exists()
    assert not CartLine.objects.exists()
