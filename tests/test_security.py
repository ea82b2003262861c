"""Hostile input and the shop's promises about it (issue 6). More live beside the code they guard:
rate limits on login (tests/test_ratelimits.py), the admin and non-staff
(shop/tests/test_accounts.py), others' orders (orders/tests/test_api_orders.py), nginx's body limit
(tests/cluster/test_edge.py)."""

import pytest
from django.test import Client

from carts.tests.factories import CartFactory
from catalog.tests.factories import ProductFactory
from orders.models import Order
from orders.tests.actions import ADDRESS, add_to_cart, order_body
from tests.fixtures import clean_environment, run_manage

pytestmark = pytest.mark.django_db


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_deploy_checks_pass_in_production_mode():
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings",
        SHOP_PRODUCTION="1",
        DJANGO_SECRET_KEY="a-long-random-secret-for-the-deploy-check-0123456789abcdefghij",
        DJANGO_ALLOWED_HOSTS="shop.example",
        DATABASE_URL="sqlite:///:memory:",
        EMAIL_URL="smtp+tls://shop:secret@mail.example:587",
        SHOP_PUBLIC_URL="https://shop.example",
    )
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_production_mode_refuses_to_start_without_its_secret():
    env = clean_environment(DJANGO_SETTINGS_MODULE="config.settings", SHOP_PRODUCTION="1")
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_an_order_is_not_found_by_its_database_id(api_client):
    product = ProductFactory(stock=5)
    add_to_cart(api_client, product, 1)
    api_client.post("/api/v1/orders/", order_body(method="cod"), format="json")
    order = Order.objects.get()
    assert api_client.get(f"/api/v1/orders/{order.pk}/").status_code == 404


def test_no_cart_id_is_ever_shown_to_the_client(api_client):
    from carts.models import CartLine
    from carts.selectors import SESSION_KEY

    # An id no page would show for another reason (a quantity of 1 is not cart 1).
    cart = CartFactory(pk=7_340_219)
    session = api_client.session
    session[SESSION_KEY] = cart.pk
    session.save()
    add_to_cart(api_client, ProductFactory(stock=5), 1)
    body = api_client.get("/api/v1/cart/")
    assert set(body.json()) == {"items", "item_count", "total", "currency"}
    assert CartLine.objects.get().cart_id == cart.pk  # so its id was there to leak
    for page in (body, api_client.get("/cart/"), api_client.get("/orders/checkout/")):
        assert str(cart.pk) not in page.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/cart/add/",
        "/cart/update/1/",
        "/cart/remove/1/",
        "/orders/checkout/",
        "/accounts/login/",
        "/accounts/register/",
        "/accounts/logout/",
        "/accounts/password/reset/",
    ],
)
def test_every_storefront_form_refuses_a_post_without_a_csrf_token(path):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(path, {"product_id": "1", "quantity": "1"}).status_code == 403


def test_an_address_with_markup_is_escaped_in_the_order_pages(client):
    product = ProductFactory(stock=5)
    client.post("/cart/add/", {"product_id": product.pk, "quantity": "1"})
    page = client.get("/orders/checkout/").content.decode()
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    evil = "<script>alert('x')</script>"
    form = {
        **ADDRESS,
        "name": evil,
        "line1": "<img src=x onerror=alert(1)>",
        "payment_method": "cod",
        "idempotency_key": key,
        "email": "a@example.com",
    }
    response = client.post("/orders/checkout/", form, follow=True)
    html = response.content.decode()
    assert Order.objects.get().shipping_name == evil
    assert evil not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_django_refuses_an_oversized_body_without_a_500(api_client):
    response = api_client.post(
        "/api/v1/cart/items/",
        b'{"product_id": 1, "quantity": 1, "x": "' + b"a" * 2_000_000 + b'"}',
        content_type="application/json",
    )
    assert response.status_code in (400, 413)
    assert "detail" in response.json()


def test_django_refuses_an_oversized_form_without_a_500(client):
    response = client.post("/cart/add/", {"product_id": "1", "quantity": "1", "x": "a" * 1_500_000})
    assert response.status_code == 400
