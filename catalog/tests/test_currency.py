"""One currency per shop (issue 12, item 11): a product has no currency of its own to edit."""

from decimal import Decimal

import pytest

from catalog.models import Product
from catalog.services import save_product
from catalog.tests.actions import CHANGELIST, product_form
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kettle():
    return ProductFactory(slug="kettle", title="Copper Kettle", price=Decimal("12.99"))


def test_an_operator_cannot_price_a_product_in_another_currency_in_the_admin(
    operator_client, client, kettle
):
    response = operator_client.post(
        f"{CHANGELIST}{kettle.pk}/change/", {**product_form(kettle), "currency": "EUR"}
    )
    assert response.status_code == 302
    page = client.get("/p/kettle/").content.decode()
    assert "$12.99" in page
    assert "€" not in page
    assert client.get("/api/v1/products/kettle/").json()["currency"] == "USD"


def test_the_product_form_has_no_currency_field(operator_client, kettle):
    form = operator_client.get(f"{CHANGELIST}{kettle.pk}/change/").context["adminform"].form
    assert "currency" not in form.fields


def test_a_service_cannot_give_a_product_another_currency(client, kettle):
    kettle.currency = "EUR"  # an attribute no column stores
    save_product(product=kettle)
    assert not hasattr(Product.objects.get(pk=kettle.pk), "currency")
    assert client.get("/api/v1/products/kettle/").json()["currency"] == "USD"


def test_the_product_page_list_and_api_show_the_shop_currency(client, settings, kettle):
    settings.SHOP_CURRENCY = "EUR"
    page = client.get("/p/kettle/").content.decode()
    assert "€12.99" in page
    assert "$" not in page.split('class="product-price"')[1].split("</p>")[0]
    assert client.get("/api/v1/products/kettle/").json()["currency"] == "EUR"
    assert [p["currency"] for p in client.get("/api/v1/products/").json()["results"]] == ["EUR"]
