import pytest
from django.contrib.auth import get_user_model

from catalog.tests.factories import ProductFactory


@pytest.fixture
def kettle(db):
    return ProductFactory(title="Copper Kettle", slug="copper-kettle", stock=5)


@pytest.fixture
def mug(db):
    return ProductFactory(title="Stoneware Mug", slug="stoneware-mug", stock=50)


@pytest.fixture
def shopper(db):
    return get_user_model().objects.create_user(email="ada@example.com", password="pw-Ada-1234")


def add(client, product, quantity: int):
    return client.post(
        "/api/v1/cart/items/", {"product_id": product.pk, "quantity": quantity}, format="json"
    )


def lines(client) -> dict[str, int]:
    return {item["title"]: item["quantity"] for item in client.get("/api/v1/cart/").json()["items"]}
