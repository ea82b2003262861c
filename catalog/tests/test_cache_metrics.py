import pytest
from prometheus_client import REGISTRY

from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def lookups() -> tuple[float, float]:
    """Return the catalog listing cache's (hits, misses) as /metrics reports them."""
    return tuple(
        REGISTRY.get_sample_value("shop_cache_lookups_total", {"kind": "category", "result": r})
        or 0.0
        for r in ("hit", "miss")
    )


def test_a_cold_then_warm_product_list_counts_one_miss_then_one_hit(api_client):
    ProductFactory.create_batch(2)
    hits, misses = lookups()
    api_client.get("/api/v1/products/")
    assert lookups() == (hits, misses + 1)
    api_client.get("/api/v1/products/")
    assert lookups() == (hits + 1, misses + 1)
