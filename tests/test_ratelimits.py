"""Per-endpoint rate limits (DESIGN.md): counted per user or address, shared, answered with 429."""

import re
import threading
import time
from types import SimpleNamespace

import django_ratelimit.core
import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from carts.models import CartLine
from catalog.models import Product
from catalog.tests.factories import CategoryFactory, ProductFactory
from orders.models import Order
from orders.tests.actions import order_body
from shop.accounts.tests.factories import PASSWORD, UserFactory
from shop.ratelimits import client_ip, describe_wait, ratelimit

pytestmark = pytest.mark.django_db

ORDER = order_body(method="cod")  # cash on delivery: no card gateway involved
WAIT = re.compile(r"Try again in (\d+) seconds?\.$")


@pytest.fixture(autouse=True)
def _limits_as_designed(settings, time_machine):
    """Use DESIGN.md's limits (the suite may scale them up), on a clock stopped mid-window.

    django-ratelimit counts in fixed windows; a stopped clock keeps a test's requests in one.
    """
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_SCALE = 1
    settings.SHOP_TRUSTED_PROXY_HEADER = ""
    time_machine.move_to(time.time(), tick=False)


def with_rate(settings, **rates: str) -> None:
    settings.RATELIMITS = {**settings.RATELIMITS, **rates}


def api() -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


def assert_api_429(response, message: str) -> int:
    """Check a JSON 429 naming the limit; return its Retry-After, the seconds it announces."""
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["detail"].startswith(f"Too many requests: at most {message}. Try again in ")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 24 * 60 * 60
    return retry_after


@pytest.fixture
def products(db):
    category = CategoryFactory(name="Kitchen", slug="kitchen")
    return [
        ProductFactory(
            category=category,
            sku=f"RL-{number}",
            slug=f"thing-{number}",
            title=f"Thing {number}",
            price="9.99",
            stock=50,
        )
        for number in range(4)
    ]


@pytest.fixture
def ada(db):
    return UserFactory(email="ada@example.com", password=PASSWORD)


def add_to_cart(client, product, **extra):
    body = {"product_id": product.pk, "quantity": 1}
    return client.post("/api/v1/cart/items/", body, content_type="application/json", **extra)


def cart_lines(client) -> dict[int, int]:
    return {
        item["product_id"]: item["quantity"] for item in client.get("/api/v1/cart/").json()["items"]
    }


def login(client, email: str, password: str = PASSWORD, **extra):
    return client.post(
        "/api/v1/auth/login/", {"email": email, "password": password}, format="json", **extra
    )


# --- Add to cart and place order ------------------------------------------------------------


def test_the_31st_add_to_cart_in_a_minute_is_a_429_and_leaves_the_cart_unchanged(products):
    client = api()
    for product in products[:3]:  # 3 lines of 10: the line maximum never refuses an add
        for _ in range(10):
            assert add_to_cart(client, product).status_code == 200
    before = cart_lines(client)

    response = add_to_cart(client, products[3])

    retry_after = assert_api_429(response, "30 adds to cart per minute")
    assert retry_after <= 60
    assert WAIT.search(response.json()["detail"]).group(1) == str(retry_after)
    assert cart_lines(client) == before
    assert not CartLine.objects.filter(product=products[3]).exists()


def test_the_storefront_and_the_api_share_the_add_to_cart_allowance_and_the_page_says_wait(
    products,
):
    client = Client()
    for number in range(30):
        if number % 2:
            assert add_to_cart(client, products[number % 3]).status_code == 200
        else:
            form = {"product_id": products[number % 3].pk, "quantity": 1}
            assert client.post("/cart/add/", form).status_code == 302
    before = cart_lines(client)

    page = client.post("/cart/add/", {"product_id": products[3].pk, "quantity": 1})

    assert page.status_code == 429
    assert page["Content-Type"].startswith("text/html")
    assert 1 <= int(page["Retry-After"]) <= 60
    assert "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert "Slow down" in html
    assert "Please try again in " in html
    assert "at most 30 adds to cart per minute" in html
    assert cart_lines(client) == before


def test_the_6th_order_in_a_minute_is_a_429_and_places_no_order(products):
    client = api()
    for _ in range(5):
        assert add_to_cart(client, products[0]).status_code == 200
        placed = client.post("/api/v1/orders/", ORDER, format="json")
        assert placed.status_code == 201, placed.json()
    assert add_to_cart(client, products[0]).status_code == 200
    stock, cart = Product.objects.get(pk=products[0].pk).stock, cart_lines(client)

    response = client.post("/api/v1/orders/", ORDER, format="json")

    assert_api_429(response, "5 orders per minute")
    form = {**ORDER["shipping_address"], "email": ORDER["email"], "payment_method": "cod"}
    checkout = client.post("/orders/checkout/", form, format="multipart")
    assert checkout.status_code == 429  # the storefront counts in the same allowance
    assert Order.objects.count() == 5
    assert Product.objects.get(pk=products[0].pk).stock == stock
    assert cart_lines(client) == cart


def test_opening_the_checkout_page_uses_none_of_the_order_allowance(settings, products):
    with_rate(settings, place_order="1/m")
    client = api()
    assert add_to_cart(client, products[0]).status_code == 200
    for _ in range(2):
        assert client.get("/orders/checkout/").status_code == 200

    assert client.post("/api/v1/orders/", ORDER, format="json").status_code == 201


def test_a_signed_in_shoppers_orders_are_counted_apart_from_their_address(settings, products, ada):
    with_rate(settings, place_order="1/m")
    ada_client, guest = api(), api()
    ada_client.force_authenticate(ada)
    for client in (ada_client, guest):
        assert add_to_cart(client, products[0]).status_code == 200
    assert ada_client.post("/api/v1/orders/", ORDER, format="json").status_code == 201

    assert ada_client.post("/api/v1/orders/", ORDER, format="json").status_code == 429
    assert guest.post("/api/v1/orders/", ORDER, format="json").status_code == 201


# --- Sign-in and registration ---------------------------------------------------------------


def test_the_6th_sign_in_attempt_from_one_address_is_a_429_even_with_the_right_password(ada):
    client = api()
    for number in range(3):
        assert login(client, f"nobody{number}@example.com").status_code == 400
    storefront = Client()  # the same address (127.0.0.1): the storefront's form counts too
    for number in range(3, 5):
        form = {"username": f"nobody{number}@example.com", "password": PASSWORD}
        assert storefront.post("/accounts/login/", form).status_code == 200  # form errors

    response = login(client, "ada@example.com")

    assert_api_429(response, "5 failed password attempts from one address per 15 minutes")
    assert "token" not in response.json()
    assert login(client, "ada@example.com", REMOTE_ADDR="10.0.0.9").status_code == 200


def test_failed_sign_ins_for_one_account_from_many_addresses_reach_its_backstop(settings, ada):
    with_rate(settings, login_account="5/h")
    client = api()
    for number in range(5):
        failed = login(client, "ada@example.com", "wrong-password", REMOTE_ADDR=f"10.0.0.{number}")
        assert failed.status_code == 400

    response = login(client, "  ADA@Example.com", REMOTE_ADDR="10.0.0.99")

    assert_api_429(response, "5 failed password attempts for one account per hour")
    page = Client(REMOTE_ADDR="10.0.0.98").post(
        "/accounts/login/", {"username": "ada@example.com", "password": PASSWORD}
    )
    assert page.status_code == 429
    assert login(client, "grace@example.com", REMOTE_ADDR="10.0.0.97").status_code == 400


def test_the_11th_registration_in_a_day_from_one_address_is_a_429_and_creates_no_account(db):
    for number in range(10):
        body = {"email": f"shopper{number}@example.com", "password": PASSWORD}
        assert api().post("/api/v1/auth/register/", body, format="json").status_code == 201

    body = {"email": "shopper10@example.com", "password": PASSWORD}
    response = api().post("/api/v1/auth/register/", body, format="json")

    assert_api_429(response, "10 registrations from one address per day")
    assert not get_user_model().objects.filter(email="shopper10@example.com").exists()
    assert get_user_model().objects.count() == 10


def test_opening_the_register_page_uses_none_of_the_registration_allowance(settings, db):
    with_rate(settings, registration="1/d")
    for _ in range(2):
        assert Client().get("/accounts/register/").status_code == 200

    body = {"email": "shopper@example.com", "password": PASSWORD}
    assert api().post("/api/v1/auth/register/", body, format="json").status_code == 201


# --- Browsing, keys and addresses -----------------------------------------------------------


@pytest.mark.slow
def test_browsing_counts_api_and_storefront_product_pages_together(products):
    api_client, storefront = api(), Client()
    slug = products[0].slug
    for _ in range(25):
        assert api_client.get("/api/v1/products/").status_code == 200
        assert api_client.get(f"/api/v1/products/{slug}/").status_code == 200
        assert storefront.get(f"/p/{slug}/").status_code == 200
        assert storefront.get(f"/c/{products[0].category.slug}/").status_code == 200

    assert_api_429(api_client.get(f"/api/v1/products/{slug}/"), "100 product pages per minute")
    assert storefront.get(f"/p/{slug}/").status_code == 429
    assert storefront.get("/").status_code == 200  # the home page is not counted
    assert storefront.get("/search/?q=thing").status_code == 200  # search has its own


def test_a_signed_in_shoppers_allowance_is_their_own_not_their_addresss(settings, products, ada):
    with_rate(settings, add_to_cart="2/m")
    grace = UserFactory(email="grace@example.com", password=PASSWORD)
    ada_client, grace_client, guest = api(), api(), api()
    ada_client.force_authenticate(ada)
    grace_client.force_authenticate(grace)
    for _ in range(2):
        assert add_to_cart(ada_client, products[0]).status_code == 200

    assert add_to_cart(ada_client, products[0]).status_code == 429
    assert add_to_cart(grace_client, products[0]).status_code == 200
    assert add_to_cart(guest, products[0]).status_code == 200


def test_a_token_is_counted_as_its_user_wherever_it_comes_from(settings, products, ada):
    with_rate(settings, browsing="2/m")
    token = login(api(), "ada@example.com").json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for number in range(2):
        assert client.get("/api/v1/products/", REMOTE_ADDR=f"10.1.0.{number}").status_code == 200

    assert client.get("/api/v1/products/", REMOTE_ADDR="10.1.0.9").status_code == 429


def test_behind_the_proxy_its_address_header_keys_the_count_and_x_forwarded_for_does_not(
    settings, products
):
    settings.SHOP_TRUSTED_PROXY_HEADER = "HTTP_X_REAL_IP"
    with_rate(settings, browsing="2/m")
    client = api()
    for number in range(2):
        response = client.get(
            "/api/v1/products/",
            HTTP_X_REAL_IP="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{number}",
        )
        assert response.status_code == 200

    forged = client.get(
        "/api/v1/products/", HTTP_X_REAL_IP="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.77"
    )
    another_client = client.get("/api/v1/products/", HTTP_X_REAL_IP="203.0.113.8")

    assert forged.status_code == 429
    assert another_client.status_code == 200


def test_without_a_trusted_proxy_a_client_sent_address_header_is_ignored(settings, products):
    with_rate(settings, browsing="2/m")
    client = api()
    for number in range(2):
        assert client.get("/api/v1/products/", HTTP_X_REAL_IP=f"10.2.0.{number}").status_code == 200

    assert client.get("/api/v1/products/", HTTP_X_REAL_IP="10.2.0.9").status_code == 429


@pytest.mark.parametrize(
    ("meta", "address"),
    [
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_REAL_IP": "203.0.113.7"}, "203.0.113.7"),
        ({"REMOTE_ADDR": "10.0.0.1"}, "10.0.0.1"),  # a request that bypassed the proxy
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_REAL_IP": "not-an-address"}, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_REAL_IP": " 2001:db8::1 "}, "2001:db8::1"),
    ],
)
def test_the_client_address_is_the_proxy_header_when_valid_else_remote_addr(
    settings, meta, address
):
    settings.SHOP_TRUSTED_PROXY_HEADER = "HTTP_X_REAL_IP"
    assert client_ip(SimpleNamespace(META=meta)) == address


# --- Switches, scale and the shared counter -------------------------------------------------


def test_ratelimit_enable_false_lets_every_request_through(settings, ada):
    settings.RATELIMIT_ENABLE = False
    client = api()
    for _ in range(7):
        assert login(client, "ada@example.com", "wrong-password").status_code == 400
    assert login(client, "ada@example.com").status_code == 200


def test_ratelimit_scale_multiplies_every_limit(settings, ada):
    settings.RATELIMIT_SCALE = 2
    client = api()
    for number in range(10):
        assert login(client, f"nobody{number}@example.com").status_code == 400

    assert_api_429(
        login(client, "ada@example.com"),
        "10 failed password attempts from one address per 15 minutes",
    )


@pytest.mark.timeout(60)
def test_counts_live_in_redis_so_a_limit_reached_on_one_replica_holds_on_another(
    redis_cache, settings, products
):
    with_rate(settings, browsing="3/m")
    replica_one = api()
    for _ in range(3):
        assert replica_one.get("/api/v1/products/").status_code == 200
    store = redis.Redis.from_url(django_settings.TEST_REDIS_URL)
    counters = store.keys(f"{django_settings.CACHES['default']['KEY_PREFIX']}:*rl:*")
    assert [int(store.get(key)) for key in counters] == [3]

    answers = []

    def on_replica_two():  # another thread: its own cache connection, as another process has
        answers.append(api().get("/api/v1/products/").status_code)
        connections.close_all()

    replica_two = threading.Thread(target=on_replica_two)
    replica_two.start()
    replica_two.join()

    assert answers == [429]
    assert [int(store.get(key)) for key in counters] == [4]


def test_with_the_cache_down_limits_fail_open_and_never_error(settings, products):
    with_rate(settings, browsing="1/m")
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
    client = api()
    for _ in range(3):
        assert client.get("/api/v1/products/").status_code == 200


def test_a_signed_in_shoppers_searches_are_counted_apart_from_their_address(
    settings, products, ada
):
    with_rate(settings, search="2/m")
    ada_client, guest = api(), api()
    ada_client.force_authenticate(ada)
    for _ in range(2):
        assert ada_client.get("/api/v1/search/?q=thing").status_code == 200

    assert ada_client.get("/api/v1/search/?q=thing").status_code == 429
    assert guest.get("/api/v1/search/?q=thing").status_code == 200


def test_retry_after_is_the_time_left_in_the_counting_window(settings, time_machine, products):
    with_rate(settings, search="1/m")
    window_end = django_ratelimit.core._get_window("127.0.0.1", 60)
    time_machine.move_to(window_end - 17, tick=False)  # 17 s before the count starts anew
    client = api()
    assert client.get("/api/v1/search/?q=thing").status_code == 200

    response = client.get("/api/v1/search/?q=thing")

    assert assert_api_429(response, "1 searches per minute") == 17
    assert response.json()["detail"].endswith("Try again in 17 seconds.")


def test_a_view_naming_an_unknown_limit_is_refused_when_it_is_defined():
    with pytest.raises(KeyError, match="No rate limit named 'browse'"):
        ratelimit("browse")


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (42, "42 seconds"), (121, "3 minutes"), (7201, "3 hours")],
)
def test_a_wait_in_words_is_rounded_up_never_shorter_than_the_wait(seconds, words):
    assert describe_wait(seconds) == words


def test_a_request_is_counted_in_one_redis_round_trip_on_django_ratelimits_own_key(
    redis_cache, redis_round_trips
):
    from django.test import RequestFactory

    from shop.ratelimits import count_request, current_rate

    request = RequestFactory().get("/c/kitchen/", REMOTE_ADDR="203.0.113.9")
    request.user = SimpleNamespace(is_authenticated=False)
    redis_round_trips.count = 0
    count_request(request, "browsing")
    assert redis_round_trips.count == 1
    # django-ratelimit reads the same count: the two ways of counting add up.
    usage = django_ratelimit.core.get_usage(
        request, group="browsing", key="user_or_ip", rate=current_rate("browsing")
    )
    assert usage["count"] == 1
