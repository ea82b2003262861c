from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from catalog import cache as catalog_cache
from catalog.selectors import get_category_tree
from catalog.tests.factories import CategoryFactory, ProductFactory
from tests.fixtures import DEAD_REDIS

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_product_list_queries_do_not_grow_with_page_size(api_client):
    category = CategoryFactory()
    ProductFactory.create_batch(40, category=category)
    small = _queries(api_client, "/api/v1/products/?page_size=5")
    cache.clear()
    large = _queries(api_client, "/api/v1/products/?page_size=40")
    assert small == large == 3  # the category tree (which categories are hidden), count, page


def test_product_list_runs_two_queries_once_the_category_tree_is_cached(api_client):
    # Every storefront page shows the category menu, so the tree is almost always cached.
    ProductFactory.create_batch(40, category=CategoryFactory())
    get_category_tree()
    assert _queries(api_client, "/api/v1/products/?page_size=40") == 2  # count, page


def test_product_list_runs_no_query_on_a_warm_cache(api_client, django_assert_num_queries):
    ProductFactory.create_batch(10)
    api_client.get("/api/v1/products/?page_size=10&ordering=price")
    with django_assert_num_queries(0):
        api_client.get("/api/v1/products/?ordering=price&page_size=10")


def test_product_detail_runs_a_fixed_number_of_queries_then_none(
    api_client, django_assert_num_queries
):
    ProductFactory(slug="kettle", attributes={"colour": "red", "capacity": "1.7 l"})
    with django_assert_num_queries(2):  # product with its category, category tree
        api_client.get("/api/v1/products/kettle/")
    with django_assert_num_queries(0):
        api_client.get("/api/v1/products/kettle/")


def test_storefront_pages_run_no_query_on_a_warm_cache(client, django_assert_num_queries):
    category = CategoryFactory(slug="kitchen")
    ProductFactory(slug="kettle", category=category, is_featured=True)
    urls = ["/", "/c/kitchen/", "/p/kettle/", "/search/?q=product"]
    for url in urls:
        client.get(url)
    for url in urls:
        with django_assert_num_queries(0):
            assert client.get(url).status_code == 200


def test_admin_price_edit_is_visible_at_once(
    api_client, operator_client, django_capture_on_commit_callbacks
):
    product = ProductFactory(slug="kettle", price=Decimal("10.00"))
    assert api_client.get("/api/v1/products/kettle/").json()["price"] == "10.00"
    assert api_client.get("/api/v1/products/").json()["results"][0]["price"] == "10.00"
    with django_capture_on_commit_callbacks(execute=True):
        changelist = operator_client.post(
            "/admin/catalog/product/",
            {
                "form-TOTAL_FORMS": "1",
                "form-INITIAL_FORMS": "1",
                "form-0-id": str(product.pk),
                "form-0-price": "12.50",
                "form-0-stock": str(product.stock),
                "form-0-is_active": "on",
                "_save": "Save",
            },
        )
    assert changelist.status_code == 302
    assert api_client.get("/api/v1/products/kettle/").json()["price"] == "12.50"
    assert api_client.get("/api/v1/products/").json()["results"][0]["price"] == "12.50"


def test_admin_deactivation_hides_the_product_at_once(
    api_client, operator_client, django_capture_on_commit_callbacks
):
    product = ProductFactory(slug="kettle")
    assert api_client.get("/api/v1/products/kettle/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            "/admin/catalog/product/",
            {"action": "deactivate", "_selected_action": [str(product.pk)]},
        )
    assert response.status_code == 302
    assert api_client.get("/api/v1/products/kettle/").status_code == 404
    assert api_client.get("/api/v1/products/").json()["count"] == 0


def test_admin_category_rename_reaches_the_tree_at_once(
    api_client, operator_client, django_capture_on_commit_callbacks
):
    category = CategoryFactory(name="Kitchen", slug="kitchen")
    assert api_client.get("/api/v1/categories/").json()[0]["name"] == "Kitchen"
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            f"/admin/catalog/category/{category.pk}/change/",
            {"name": "Kitchen & Dining", "slug": "kitchen", "position": "0", "is_active": "on"},
        )
    assert response.status_code == 302
    assert api_client.get("/api/v1/categories/").json()[0]["name"] == "Kitchen & Dining"


def test_ttls_are_jittered_within_ten_percent(settings):
    settings.CACHE_TTLS = {**settings.CACHE_TTLS, "product": 300}
    lifetimes = {catalog_cache.ttl(kind="product") for _ in range(200)}
    assert min(lifetimes) >= 270
    assert max(lifetimes) <= 330
    assert len(lifetimes) > 10


def test_a_lost_version_key_never_resurrects_old_entries(redis_cache):
    before = catalog_cache.product_key(slug="kettle")
    cache.delete(catalog_cache.VERSION_KEY)
    assert catalog_cache.product_key(slug="kettle") != before


def test_catalog_is_served_from_the_database_when_redis_is_down(api_client, client):
    ProductFactory(slug="kettle", title="Copper Kettle")
    with override_settings(CACHES=DEAD_REDIS):
        assert api_client.get("/api/v1/products/").json()["count"] == 1
        assert api_client.get("/api/v1/products/kettle/").json()["title"] == "Copper Kettle"
        assert client.get("/").status_code == 200
        assert client.get("/p/kettle/").status_code == 200


def test_catalog_entries_land_in_redis(redis_cache, api_client):
    from django_redis import get_redis_connection

    ProductFactory(slug="kettle")
    api_client.get("/api/v1/products/kettle/")
    keys = get_redis_connection("default").keys("shoptest:*:catalog:*:product:kettle")
    assert len(keys) == 1
