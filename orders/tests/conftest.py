import copy

import pytest

from catalog.tests.factories import ProductFactory

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+44 20 7946 0958",
}


def order_body(method: str = "card", token: str = "tok_visa", **changes) -> dict:
    payment = {"method": method, **({"token": token} if method == "card" else {})}
    body = {"email": "ada@example.com", "shipping_address": dict(ADDRESS), "payment": payment}
    body.update(copy.deepcopy(changes))
    return body


def add_to_cart(client, product, quantity: int) -> None:
    response = client.post(
        "/api/v1/cart/items/", {"product_id": product.pk, "quantity": quantity}, format="json"
    )
    assert response.status_code == 200, response.json()


@pytest.fixture
def lamp(db):
    return ProductFactory(title="Brass Desk Lamp", sku="LAMP-1", price="45.50", stock=8)


@pytest.fixture
def rug(db):
    return ProductFactory(title="Wool Rug", sku="RUG-1", price="120.00", stock=3)
