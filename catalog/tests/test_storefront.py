from decimal import Decimal

import pytest

from catalog.tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kitchen():
    return CategoryFactory(name="Kitchen", slug="kitchen")


def test_home_shows_featured_products_and_categories(client, kitchen):
    ProductFactory(title="Copper Kettle", category=kitchen, is_featured=True)
    page = client.get("/").content.decode()
    assert "Copper Kettle" in page
    assert 'href="/c/kitchen/"' in page


def test_category_page_lists_its_products_with_prices(client, kitchen):
    ProductFactory(title="Copper Kettle", category=kitchen, price=Decimal("49.90"))
    ProductFactory(title="Garden Hose", category=CategoryFactory(slug="garden"))
    response = client.get("/c/kitchen/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Copper Kettle" in page
    assert "49.90" in page
    assert "Garden Hose" not in page


def test_category_page_sorts_and_filters_by_price(client, kitchen):
    for title, price in [("Cheap Cup", "3.00"), ("Mid Mug", "12.00"), ("Dear Decanter", "90.00")]:
        ProductFactory(title=title, category=kitchen, price=Decimal(price))
    page = client.get("/c/kitchen/?ordering=-price&min_price=5").content.decode()
    assert "Cheap Cup" not in page
    assert page.index("Dear Decanter") < page.index("Mid Mug")


def test_product_page_shows_price_stock_and_attributes(client, kitchen):
    ProductFactory(
        slug="kettle",
        title="Copper Kettle",
        category=kitchen,
        price=Decimal("49.90"),
        stock=0,
        attributes={"capacity": "1.7 l"},
    )
    page = client.get("/p/kettle/").content.decode()
    assert "Copper Kettle" in page
    assert "49.90" in page
    assert "Out of stock" in page
    assert "1.7 l" in page


def test_search_page_lists_matches(client, kitchen):
    ProductFactory(title="Copper Kettle", category=kitchen)
    ProductFactory(title="Garden Hose", category=kitchen)
    page = client.get("/search/?q=kettle").content.decode()
    assert "Copper Kettle" in page
    assert "Garden Hose" not in page


def test_unknown_product_is_the_404_page(client):
    response = client.get("/p/no-such-thing/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]
    assert "No product with the slug" in response.content.decode()


def test_unknown_path_is_the_404_page(client):
    response = client.get("/definitely/not/here/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]


@pytest.mark.parametrize(
    "query", ["min_price=abc", "page=0", "ordering=random", "max_price=-5", "q=" + "x" * 300]
)
def test_bad_listing_input_is_a_400_page(client, kitchen, query):
    response = client.get(f"/c/kitchen/?{query}")
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]


def test_a_page_past_the_last_is_a_404_page(client, kitchen):
    ProductFactory(category=kitchen)
    assert client.get("/c/kitchen/?page=40").status_code == 404


def test_product_text_with_markup_is_escaped(client, kitchen):
    ProductFactory(
        slug="evil",
        title="<script>alert(1)</script>",
        category=kitchen,
        description="<img src=x onerror=alert(2)>",
    )
    page = client.get("/p/evil/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


def test_server_errors_render_the_500_page(client, monkeypatch):
    from catalog import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "get_home", broken)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_the_filter_form_submitted_with_empty_fields_lists_everything(client, kitchen):
    ProductFactory(title="Copper Kettle", category=kitchen)
    response = client.get("/c/kitchen/?ordering=newest&min_price=&max_price=")
    assert response.status_code == 200
    assert "Copper Kettle" in response.content.decode()


def test_a_capped_count_reads_as_at_least(client, kitchen, settings):
    settings.CATALOG_COUNT_CAP = 3
    ProductFactory.create_batch(5, category=kitchen)
    assert "<strong>3+</strong> products" in client.get("/c/kitchen/").content.decode()
