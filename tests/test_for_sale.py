"""One rule for "for sale" (catalog.selectors.for_sale), held by every reader and by checkout.

A product is for sale when it is active, priced above zero, and every category from its own up
to the root is active. Listings, search, the product page, the cart's offers and the stock
reservation at checkout all apply that one rule (issue 11).
"""

from decimal import Decimal

import pytest

from carts.models import CartLine
from catalog.models import Category, Product
from catalog.services import save_category, save_product
from catalog.tests.factories import CategoryFactory, ProductFactory
from orders.models import Order
from orders.tests.actions import add_to_cart, order_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def home():
    """Home > Lighting > Desk lamps, each level active."""
    root = CategoryFactory(name="Home", slug="home")
    lighting = CategoryFactory(name="Lighting", slug="lighting", parent=root)
    return {"home": root, "lighting": lighting}


@pytest.fixture
def lamp(home):
    desk = CategoryFactory(name="Desk lamps", slug="desk-lamps", parent=home["lighting"])
    return ProductFactory(title="Brass Desk Lamp", slug="brass-lamp", category=desk, stock=8)


@pytest.fixture
def hide(django_capture_on_commit_callbacks):
    """Hide a category as the admin does: saved, and the catalog cache refreshed on commit."""

    def hide(category: Category) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            category.is_active = False
            save_category(category=category)

    return hide


def _listed_slugs(client) -> set[str]:
    return {product["slug"] for product in client.get("/api/v1/products/").json()["results"]}


def test_a_product_under_a_hidden_ancestor_category_cannot_be_ordered(api_client, home, lamp, hide):
    add_to_cart(api_client, lamp, 2)
    hide(home["home"])  # the grandparent: the lamp's own category stays active
    response = api_client.post("/api/v1/orders/", order_body(), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "product_no_longer_sold"
    assert not Order.objects.exists()
    assert Product.objects.get(pk=lamp.pk).stock == 8
    assert CartLine.objects.get().quantity == 2  # the cart is as it was


def test_a_product_whose_own_category_is_hidden_cannot_be_ordered_by_cash(api_client, lamp, hide):
    add_to_cart(api_client, lamp, 1)
    hide(lamp.category)
    response = api_client.post("/api/v1/orders/", order_body(method="cod"), format="json")
    assert response.status_code == 409
    assert not Order.objects.exists()
    assert Product.objects.get(pk=lamp.pk).stock == 8


def test_a_product_under_a_hidden_ancestor_is_gone_from_listings_page_and_cart(
    api_client, client, home, lamp, hide
):
    add_to_cart(api_client, lamp, 1)
    hide(home["lighting"])
    assert "brass-lamp" not in _listed_slugs(api_client)
    assert api_client.get("/api/v1/search/?q=brass").json()["count"] == 0
    assert api_client.get("/api/v1/products/brass-lamp/").status_code == 404
    assert client.get("/products/brass-lamp/").status_code == 404
    item = api_client.get("/api/v1/cart/").json()["items"][0]
    assert item["title"] == "No longer available"
    added = api_client.post(
        "/api/v1/cart/items/", {"product_id": lamp.pk, "quantity": 1}, format="json"
    )
    assert added.status_code == 400
    assert added.json()["code"] == "product_unavailable"


def test_a_subcategory_of_a_hidden_category_leaves_the_menu_with_it(api_client, home, lamp, hide):
    hide(home["home"])
    assert api_client.get("/api/v1/categories/").json() == []
    assert api_client.get("/api/v1/products/?category=desk-lamps").status_code == 404


def test_a_product_priced_at_zero_is_not_for_sale(
    api_client, lamp, django_capture_on_commit_callbacks
):
    add_to_cart(api_client, lamp, 1)
    with django_capture_on_commit_callbacks(execute=True):
        lamp.price = Decimal("0.00")
        save_product(product=lamp, fields=["price"])
    assert "brass-lamp" not in _listed_slugs(api_client)
    assert api_client.get("/api/v1/products/brass-lamp/").status_code == 404
    response = api_client.post("/api/v1/orders/", order_body(), format="json")
    assert response.status_code == 409
    assert not Order.objects.exists()


def test_showing_the_category_again_puts_the_product_back_on_sale(
    api_client, home, lamp, hide, django_capture_on_commit_callbacks
):
    hide(home["home"])
    with django_capture_on_commit_callbacks(execute=True):
        home["home"].is_active = True
        save_category(category=home["home"])
    assert "brass-lamp" in _listed_slugs(api_client)
    add_to_cart(api_client, lamp, 1)
    assert api_client.post("/api/v1/orders/", order_body(), format="json").status_code == 201
