import pytest

from catalog.models import Product, StockMovement
from catalog.stock import StockLine, take_stock
from catalog.tests.actions import CHANGELIST, product_form
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _list_form(product: Product, **changes) -> dict:
    """The product list's editable row for the product, as shown, with the operator's changes."""
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": product.pk,
        "form-0-price": str(product.price),
        "form-0-stock": product.stock,
        "initial-form-0-stock": product.stock,
        "form-0-is_active": "on",
        "_save": "Save",
    }
    return {**data, **changes}


def _adjustments() -> list[tuple]:
    return list(
        StockMovement.objects.filter(reason=StockMovement.Reason.ADJUSTMENT).values_list(
            "product_id", "change", "actor_id", "note"
        )
    )


def test_editing_stock_in_the_product_form_records_the_operator_and_the_change(
    operator_client, operator
):
    product = ProductFactory(stock=10)
    response = operator_client.post(
        f"{CHANGELIST}{product.pk}/change/", product_form(product, stock="25")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Product.objects.get(pk=product.pk).stock == 25
    assert _adjustments() == [(product.pk, 15, operator.pk, "Edited in the admin")]


def test_editing_stock_in_the_product_list_records_the_operator_and_the_change(
    operator_client, operator
):
    product = ProductFactory(stock=10)
    response = operator_client.post(CHANGELIST, _list_form(product, **{"form-0-stock": "3"}))
    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).stock == 3
    assert _adjustments() == [(product.pk, -7, operator.pk, "Edited in the admin")]


def test_a_price_edit_leaves_alone_the_stock_sold_while_the_form_was_open(operator_client):
    product = ProductFactory(stock=10)
    shown = product_form(product, price="24.99")
    take_stock(lines=[StockLine(product.pk, 2)], reference="ORDER-1")
    response = operator_client.post(f"{CHANGELIST}{product.pk}/change/", shown)
    assert response.status_code == 302
    product.refresh_from_db()
    assert (str(product.price), product.stock) == ("24.99", 8)
    assert _adjustments() == []


def test_a_stock_edit_counts_from_the_stock_left_after_a_sale_meanwhile(operator_client, operator):
    product = ProductFactory(stock=10)
    shown = _list_form(product, **{"form-0-stock": "20"})
    take_stock(lines=[StockLine(product.pk, 2)], reference="ORDER-1")
    operator_client.post(CHANGELIST, shown)
    assert Product.objects.get(pk=product.pk).stock == 20
    # The movements add up to the stock: 10 - 2 (sale) + 12 (adjustment) = 20.
    assert _adjustments() == [(product.pk, 12, operator.pk, "Edited in the admin")]


def test_the_forms_carry_the_stock_the_operator_was_shown(operator_client):
    product = ProductFactory(stock=10)
    change_page = operator_client.get(f"{CHANGELIST}{product.pk}/change/").content.decode()
    list_page = operator_client.get(CHANGELIST).content.decode()
    assert 'type="hidden" name="initial-stock" value="10"' in change_page
    assert 'type="hidden" name="initial-form-0-stock" value="10"' in list_page


@pytest.mark.parametrize(
    ("level", "titles"),
    [("out", ["Empty"]), ("low", ["Five", "One"]), ("in", ["Plenty", "Six"])],
)
def test_the_stock_level_filter_shows_only_that_level(operator_client, settings, level, titles):
    settings.LOW_STOCK_THRESHOLD = 5
    for title, stock in [("Empty", 0), ("One", 1), ("Five", 5), ("Six", 6), ("Plenty", 80)]:
        ProductFactory(title=title, stock=stock)
    response = operator_client.get(f"{CHANGELIST}?stock_level={level}")
    assert response.status_code == 200
    assert sorted(product.title for product in response.context["cl"].result_list) == titles


def test_the_product_list_marks_low_and_missing_stock(operator_client, settings):
    settings.LOW_STOCK_THRESHOLD = 5
    ProductFactory(stock=0)
    ProductFactory(stock=3)
    page = operator_client.get(CHANGELIST).content.decode()
    assert '<strong class="stock-out">Out of stock</strong>' in page
    assert '<strong class="stock-low">Low</strong>' in page
    assert "catalog/admin.css" in page
    assert "style=" not in page.split('id="result_list"')[1]  # the CSP blocks style attributes


def test_stock_movements_are_listed_read_only_and_searchable(operator_client):
    lamp = ProductFactory(title="Brass Lamp", sku="LAMP-1")
    rug = ProductFactory(title="Wool Rug", sku="RUG-1")
    take_stock(lines=[StockLine(lamp.pk, 1)], reference="ORDER-7")
    take_stock(lines=[StockLine(rug.pk, 1)], reference="ORDER-8")
    for query in ("LAMP-1", "Brass", "ORDER-7"):
        response = operator_client.get(f"/admin/catalog/stockmovement/?q={query}")
        assert [movement.product_id for movement in response.context["cl"].result_list] == [lamp.pk]
    assert operator_client.get("/admin/catalog/stockmovement/add/").status_code == 403
