from decimal import Decimal

import pytest

from catalog.tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def phones():
    electronics = CategoryFactory(name="Electronics", slug="electronics")
    return CategoryFactory(name="Phones", slug="phones", parent=electronics)


def test_product_list_has_the_contract_page_shape(api_client):
    ProductFactory.create_batch(3)
    body = api_client.get("/api/v1/products/?page_size=2").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert body["next"] == "http://testserver/api/v1/products/?page=2&page_size=2"
    assert body["previous"] is None
    assert len(body["results"]) == 2


@pytest.mark.parametrize("path", ["/api/v1/products/", "/api/v1/search/?q=lamp"])
def test_a_host_with_a_port_puts_no_port_into_the_api_links(api_client, settings, path):
    # Issue 12: `Host: testserver:1337` went into `next`, `previous` and the pictures' URLs.
    settings.SHOP_PUBLIC_URL = "https://shop.example"
    ProductFactory.create_batch(3, title="Desk lamp", image="products/lamp.png")
    separator = "&" if "?" in path else "?"
    response = api_client.get(f"{path}{separator}page=2&page_size=1", HTTP_HOST="testserver:1337")
    body = response.json()
    assert body["next"].startswith("https://shop.example/api/v1/")
    assert "page=3&page_size=1" in body["next"]
    assert body["previous"].startswith("https://shop.example/api/v1/")
    assert body["results"][0]["image"] == "https://shop.example/media/products/lamp.png"
    assert "1337" not in response.content.decode()


def test_a_product_picture_links_to_the_public_url(api_client, settings):
    settings.SHOP_PUBLIC_URL = "https://shop.example"
    ProductFactory(slug="desk-lamp", image="products/lamp.png")
    body = api_client.get("/api/v1/products/desk-lamp/", HTTP_HOST="testserver:1337").json()
    assert body["image"] == "https://shop.example/media/products/lamp.png"


def test_product_detail_has_the_contract_fields(api_client):
    product = ProductFactory(slug="blue-kettle", price=Decimal("1299.00"), stock=7)
    response = api_client.get("/api/v1/products/blue-kettle/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == product.pk
    assert body["sku"] == product.sku
    assert body["slug"] == "blue-kettle"
    assert body["title"] == product.title
    assert body["price"] == "1299.00"
    assert body["currency"] == "USD"
    assert body["stock"] == 7


def test_category_filter_includes_subcategories(api_client, phones):
    in_phones = ProductFactory(category=phones)
    in_parent = ProductFactory(category=phones.parent)
    ProductFactory(category=CategoryFactory(slug="garden"))
    body = api_client.get("/api/v1/products/?category=electronics").json()
    assert {p["id"] for p in body["results"]} == {in_phones.pk, in_parent.pk}


def test_price_range_filter_is_inclusive(api_client):
    for price in ("5.00", "10.00", "20.00", "30.00"):
        ProductFactory(price=Decimal(price))
    body = api_client.get("/api/v1/products/?min_price=10&max_price=20").json()
    assert sorted(p["price"] for p in body["results"]) == ["10.00", "20.00"]


def test_in_stock_filter_keeps_only_products_with_units(api_client):
    available = ProductFactory(stock=3)
    ProductFactory(stock=0)
    body = api_client.get("/api/v1/products/?in_stock=true").json()
    assert [p["id"] for p in body["results"]] == [available.pk]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [("price", ["1.00", "2.00", "3.00"]), ("-price", ["3.00", "2.00", "1.00"])],
)
def test_ordering_by_price(api_client, ordering, expected):
    for price in ("2.00", "3.00", "1.00"):
        ProductFactory(price=Decimal(price))
    body = api_client.get(f"/api/v1/products/?ordering={ordering}").json()
    assert [p["price"] for p in body["results"]] == expected


def test_ordering_by_title_and_newest(api_client):
    first = ProductFactory(title="Banana")
    second = ProductFactory(title="Apple")
    by_title = api_client.get("/api/v1/products/?ordering=title").json()["results"]
    newest = api_client.get("/api/v1/products/?ordering=newest").json()["results"]
    assert [p["title"] for p in by_title] == ["Apple", "Banana"]
    assert [p["id"] for p in newest] == [second.pk, first.pk]


def test_inactive_products_are_neither_listed_nor_found(api_client):
    ProductFactory(slug="hidden", is_active=False)
    assert api_client.get("/api/v1/products/").json()["count"] == 0
    response = api_client.get("/api/v1/products/hidden/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No product with the slug 'hidden'."


def test_category_tree_nests_children(api_client, phones):
    body = api_client.get("/api/v1/categories/").json()
    assert body == [
        {
            "id": phones.parent.pk,
            "name": "Electronics",
            "slug": "electronics",
            "children": [{"id": phones.pk, "name": "Phones", "slug": "phones", "children": []}],
        }
    ]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("page=abc", 400, "page"),
        ("page=0", 400, "page"),
        ("page=-3", 400, "page"),
        ("page_size=0", 400, "page_size"),
        ("page_size=1000", 400, "page_size"),
        ("page_size=ten", 400, "page_size"),
        ("min_price=-1", 400, "min_price"),
        ("min_price=cheap", 400, "min_price"),
        ("max_price=1e999", 400, "max_price"),
        ("min_price=20&max_price=10", 400, "min_price"),
        ("in_stock=perhaps", 400, "in_stock"),
        ("ordering=popularity", 400, "ordering"),
        ("category=Not%20A%20Slug", 400, "category"),
        ("q=" + "x" * 201, 400, "q"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_the_field(api_client, query, status, field):
    ProductFactory()
    response = api_client.get(f"/api/v1/products/?{query}")
    assert response.status_code == status
    body = response.json()
    assert body["detail"].startswith(f"{field}: ")
    assert body["code"] == "invalid"
    assert field in body["errors"]


def test_a_page_past_the_last_is_a_404_with_detail(api_client):
    ProductFactory()
    response = api_client.get("/api/v1/products/?page=99")
    assert response.status_code == 404
    assert response.json()["detail"] == "Invalid page 99: the last page is 1."


def test_an_unknown_category_is_a_404_with_detail(api_client):
    response = api_client.get("/api/v1/products/?category=nowhere")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "No category with the slug 'nowhere'.",
        "code": "category_not_found",
    }


def test_search_requires_a_query(api_client):
    response = api_client.get("/api/v1/search/?q=%20%20")
    assert response.status_code == 400
    assert response.json()["detail"] == "q: This field may not be blank."


def test_search_has_the_product_list_shape(api_client):
    ProductFactory(title="Copper Kettle")
    ProductFactory(title="Garden Hose")
    body = api_client.get("/api/v1/search/?q=kettle").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [p["title"] for p in body["results"]] == ["Copper Kettle"]


def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."


def test_openapi_schema_describes_the_catalog(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/products/", "/api/v1/products/{slug}/", "/api/v1/search/"} <= set(paths)
    names = {p["name"] for p in paths["/api/v1/products/"]["get"]["parameters"]}
    assert {"category", "q", "min_price", "max_price", "in_stock", "ordering", "page"} <= names


def test_api_docs_page_is_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_the_count_is_capped_and_pages_stop_there(api_client, settings, django_assert_num_queries):
    settings.CATALOG_COUNT_CAP = 5
    ProductFactory.create_batch(8)
    body = api_client.get("/api/v1/products/?page_size=2").json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert api_client.get("/api/v1/products/?page_size=2&page=3").status_code == 200
    response = api_client.get("/api/v1/products/?page_size=2&page=4")
    assert response.status_code == 404
    assert response.json()["detail"] == "Invalid page 4: the last page is 3."


def test_the_count_never_scans_more_than_the_cap(api_client, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.CATALOG_COUNT_CAP = 5
    ProductFactory.create_batch(8)
    with CaptureQueriesContext(connection) as captured:
        api_client.get("/api/v1/products/")
    count_sql = next(q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"])
    assert "LIMIT 6" in count_sql


@pytest.mark.parametrize("ordering", ["price", "-price", "newest", "-newest", "title", "-title"])
def test_a_parent_category_pages_through_all_its_subcategories_in_order(api_client, ordering):
    parent = CategoryFactory(slug="home")
    children = [CategoryFactory(slug=f"room-{n}", parent=parent) for n in range(3)]
    for n in range(9):
        ProductFactory(
            category=children[n % 3],
            price=Decimal(f"{(n * 7) % 9 + 1}.00"),
            title=f"Item {(n * 5) % 9}",
        )
    expected = [
        p["id"]
        for p in api_client.get(f"/api/v1/products/?ordering={ordering}&page_size=9").json()[
            "results"
        ]
    ]
    paged = []
    for page in (1, 2, 3):
        url = f"/api/v1/products/?category=home&ordering={ordering}&page_size=3&page={page}"
        paged += [p["id"] for p in api_client.get(url).json()["results"]]
    assert paged == expected
