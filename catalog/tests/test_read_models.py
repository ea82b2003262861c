"""Read models carry the URLs their templates link to, so a listing resolves none per product."""

from unittest import mock

import pytest
from django import urls

from catalog.selectors import ProductQuery, get_product_page
from catalog.tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _urls_resolved_by_templates(client, url: str) -> int:
    # {% url %} imports django.urls.reverse when it renders; the selectors and context processors
    # hold their own, imported by a first request before the count.
    assert client.get(url).status_code == 200
    with mock.patch.object(urls, "reverse", wraps=urls.reverse) as reverse:
        assert client.get(url).status_code == 200
    return reverse.call_count


def test_a_product_card_carries_its_page_and_category_urls():
    kitchen = CategoryFactory(slug="kitchen")
    ProductFactory(slug="kettle", category=kitchen)
    (card,) = get_product_page(query=ProductQuery()).results
    assert card.url == "/p/kettle/"
    assert card.category.url == "/c/kitchen/"


@pytest.mark.parametrize("url", ["/c/{word}/?page_size=40", "/search/?q={word}&page_size=40"])
def test_a_listing_resolves_as_many_urls_for_forty_products_as_for_one(client, url):
    ProductFactory(title="Kettle", category=CategoryFactory(slug="kettle"))
    ProductFactory.create_batch(40, title="Teapot", category=CategoryFactory(slug="teapot"))
    one = _urls_resolved_by_templates(client, url.format(word="kettle"))
    forty = _urls_resolved_by_templates(client, url.format(word="teapot"))
    assert one == forty
