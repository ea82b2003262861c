"""Catalog pages and API answers served from rendered bytes (catalog/rendered.py,
shop/shared_pages.py): each shopper sees their own header, messages and CSRF token, never
another's, and prices and stock stay as fresh as without the rendered copy."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django_redis import get_redis_connection

from catalog.models import Product
from catalog.services import save_product
from catalog.tests.factories import CategoryFactory, ProductFactory
from shop.accounts.tests.factories import PASSWORD, UserFactory
from shop.shared_pages import CSRF_PLACEHOLDER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_cache")]

PAGES = ["/", "/c/kitchen/", "/p/kettle/", "/search/?q=kettle"]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def kettle():
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    return ProductFactory(
        slug="kettle", title="Copper Kettle", category=kitchen, is_featured=True, stock=50
    )


def shopper_with_cart(email: str, units: int, product: Product) -> Client:
    """Return a client signed in as a new account `email` holding `units` of `product`."""
    UserFactory(email=email)
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    response = client.post("/cart/add/", {"product_id": product.pk, "quantity": units})
    assert response.status_code == 302
    client.get("/cart/")  # shows and so clears the "added" message
    return client


def rendered_entries() -> list[bytes]:
    redis = get_redis_connection("default")
    return [redis.get(key) or b"" for key in redis.keys(cache.make_key("catalog:*:rendered:*"))]


@pytest.mark.parametrize("path", PAGES)
def test_each_shopper_gets_their_own_header_and_token_on_a_shared_page(kettle, path):
    ada = shopper_with_cart("ada@example.com", 2, kettle)
    bob = shopper_with_cart("bob@example.com", 3, kettle)
    guest = Client()
    pages = {
        who: client.get(path) for who, client in [("ada", ada), ("bob", bob), ("guest", guest)]
    }
    assert all(page.status_code == 200 for page in pages.values())
    text = {who: page.content.decode() for who, page in pages.items()}
    assert "ada@example.com" in text["ada"]
    assert "bob@example.com" not in text["ada"]
    assert "bob@example.com" in text["bob"]
    assert "ada@example.com" not in text["bob"]
    assert "Sign in" in text["guest"]
    assert "@example.com" not in text["guest"]
    assert 'aria-label="Cart, 2 items"' in text["ada"]
    assert 'aria-label="Cart, 3 items"' in text["bob"]
    assert 'aria-label="Cart, 0 items"' in text["guest"]
    for who, page in text.items():
        assert CSRF_PLACEHOLDER not in page, who
        assert "per-shopper" not in page, who
    assert rendered_entries(), "the page was not kept as rendered bytes"


@pytest.mark.parametrize("path", PAGES)
def test_a_rendered_page_holds_no_shoppers_token_name_or_cart(kettle, path):
    ada = shopper_with_cart("ada@example.com", 2, kettle)
    page = ada.get(path).content.decode()
    tokens = set(TOKEN.findall(page))
    assert tokens, "the page has forms"
    entries = b"".join(rendered_entries())
    assert entries
    assert CSRF_PLACEHOLDER.encode() in entries
    assert b"ada@example.com" not in entries
    assert not any(token.encode() in entries for token in tokens)
    assert ada.session.session_key.encode() not in entries


def test_the_token_on_a_shared_page_is_the_shoppers_own_and_is_accepted(kettle):
    Client().get("/p/kettle/")  # rendered for someone else first
    shopper = Client(enforce_csrf_checks=True)
    page = shopper.get("/p/kettle/").content.decode()
    token = TOKEN.search(page).group(1)
    response = shopper.post(
        "/cart/add/", {"product_id": kettle.pk, "quantity": 1, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    stranger = Client(enforce_csrf_checks=True)
    stranger.get("/")
    refused = stranger.post(
        "/cart/add/", {"product_id": kettle.pk, "quantity": 1, "csrfmiddlewaretoken": "x" * 64}
    )
    assert refused.status_code == 403


def test_the_added_message_shows_once_on_a_shared_page(kettle):
    shopper = Client()
    shopper.get("/p/kettle/")
    response = shopper.post(
        "/cart/add/", {"product_id": kettle.pk, "quantity": 1, "next": "/p/kettle/"}, follow=True
    )
    assert "Copper Kettle" in response.content.decode()
    assert 'class="messages"' in response.content.decode()
    assert 'class="messages"' not in shopper.get("/p/kettle/").content.decode()


def test_a_product_page_shows_the_stock_an_order_left(kettle):
    assert "Only" not in Client().get("/p/kettle/").content.decode()
    Product.objects.filter(pk=kettle.pk).update(stock=3)
    from catalog.cache import forget_products

    forget_products(pks=[kettle.pk])  # what an order does when it takes stock
    assert "Only 3 left" in Client().get("/p/kettle/").content.decode()


def test_a_price_edit_shows_at_once_on_every_page(kettle, django_capture_on_commit_callbacks):
    for path in PAGES:
        Client().get(path)
    kettle.price = Decimal("77.70")
    with django_capture_on_commit_callbacks(execute=True):
        save_product(product=kettle)  # bumps the catalog version on commit
    for path in PAGES:
        assert "77.70" in Client().get(path).content.decode(), path


def test_a_rendered_listing_lives_no_longer_than_its_data(kettle):
    Client().get("/c/kitchen/")
    redis = get_redis_connection("default")
    (data_key,) = redis.keys(cache.make_key("catalog:*:products:*"))
    redis.expire(data_key, 7)
    redis.delete(*redis.keys(cache.make_key("catalog:*:rendered:*")))
    Client().get("/c/kitchen/")  # rendered again, from data with 7 s to live
    (rendered,) = redis.keys(cache.make_key("catalog:*:rendered:*"))
    assert 0 < redis.ttl(rendered) <= 7


def test_a_query_the_page_does_not_read_is_answered_but_not_kept(kettle):
    assert Client().get("/c/kitchen/?utm_source=mail").status_code == 200
    assert Client().get("/p/kettle/?x=1").status_code == 200
    assert rendered_entries() == []


def test_a_warm_page_reads_redis_in_few_round_trips(
    kettle, redis_round_trips, django_assert_num_queries
):
    ada = shopper_with_cart("ada@example.com", 2, kettle)
    for path in PAGES:
        ada.get(path)
    for path in PAGES:
        redis_round_trips.count = 0
        with django_assert_num_queries(0):
            assert ada.get(path).status_code == 200
        # session, user, the rendered page (with the version), the offer (product page),
        # the cart count, the rate limit's count
        assert redis_round_trips.count <= 7, (path, redis_round_trips.count)


def test_the_api_product_is_served_as_bytes_and_follows_stock(kettle, api_client):
    first = api_client.get("/api/v1/products/kettle/")
    second = api_client.get("/api/v1/products/kettle/")
    assert first.json() == second.json()
    assert second.json()["stock"] == 50
    assert rendered_entries()
    Product.objects.filter(pk=kettle.pk).update(stock=4)
    from catalog.cache import forget_products

    forget_products(pks=[kettle.pk])
    assert api_client.get("/api/v1/products/kettle/").json()["stock"] == 4


def test_the_api_list_links_name_each_requests_own_query(kettle, api_client):
    ProductFactory.create_batch(3, category=kettle.category)
    one = api_client.get("/api/v1/products/?category=kitchen&page_size=2").json()
    two = api_client.get("/api/v1/products/?category=kitchen&page_size=2&ref=mail").json()
    assert one["results"] == two["results"]
    assert len(rendered_entries()) == 1  # one page of results, serialized once
    assert one["next"].endswith("/api/v1/products/?category=kitchen&page=2&page_size=2")
    assert two["next"].endswith("/api/v1/products/?category=kitchen&page=2&page_size=2&ref=mail")
    assert one["previous"] is None
    assert one["count"] == 4
