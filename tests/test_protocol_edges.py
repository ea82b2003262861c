"""Bad input and protocol edges (issue 11): each a 4xx with a JSON `detail` under /api/, the
shop's own page elsewhere, never a 500, and nothing changed. Hostile input of issue 6 lives in
tests/test_security.py; over-long request lines through a real gunicorn in
tests/test_request_line.py, and through nginx in tests/cluster/test_edge.py."""

import json

import pytest
from django.contrib.auth import get_user_model
from knox.models import AuthToken

from carts.models import Cart, CartLine
from catalog.models import Product
from catalog.tests.factories import ProductFactory
from orders.models import Order
from orders.tests.actions import add_to_cart, order_body
from shop.accounts.tests.factories import UserFactory
from shop.accounts.tokens import issue_token

pytestmark = pytest.mark.django_db

UNKNOWN_HOST = "shop.attacker.example"


# --- An unknown Host header -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/search/?q=lamp", "/cart/", "/accounts/login/"])
def test_an_unknown_host_gets_the_plain_400_page_on_the_storefront(client, path):
    response = client.get(path, HTTP_HOST=UNKNOWN_HOST)

    assert response.status_code == 400
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>Bad request · Shop</title>" in response.content.decode()
    assert "Set-Cookie" not in response


@pytest.mark.parametrize("path", ["/api/v1/products/", "/api/v1/cart/", "/api/no-such-thing/"])
def test_an_unknown_host_gets_a_json_400_on_the_api(client, path):
    response = client.get(path, HTTP_HOST=UNKNOWN_HOST)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "This server does not serve the host named in the request.",
        "code": "unknown_host",
    }


def test_an_add_to_cart_for_an_unknown_host_changes_nothing(client):
    product = ProductFactory(stock=5)

    response = client.post(
        "/api/v1/cart/items/",
        {"product_id": product.pk, "quantity": 1},
        content_type="application/json",
        HTTP_HOST=UNKNOWN_HOST,
    )

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_host"
    assert not Cart.objects.exists()
    assert not CartLine.objects.exists()


# --- JSON nested too deep ----------------------------------------------------------------------


def nested(levels: int, innermost) -> str:
    """A JSON text of `levels` arrays, one inside the other, around `innermost`."""
    return "[" * levels + json.dumps(innermost) + "]" * levels


def deep_body(body: dict, levels: int = 1000) -> str:
    """The body with its first field's value inside `levels` arrays, as a hostile client sends."""
    field, value = next(iter(body.items()))
    return json.dumps({**body, field: "DEEP"}).replace('"DEEP"', nested(levels, value), 1)


def post_json(client, path: str, text: str, **headers):
    return client.post(path, text, content_type="application/json", **headers)


TOO_DEEP = {
    "detail": "The JSON body is nested deeper than 20 levels.",
    "code": "json_too_deep",
}


def test_a_json_body_a_thousand_levels_deep_is_refused_when_adding_to_the_cart(client):
    product = ProductFactory(stock=5)

    body = deep_body({"product_id": product.pk, "quantity": 1})
    response = post_json(client, "/api/v1/cart/items/", body)

    assert response.status_code == 400
    assert response.json() == TOO_DEEP
    assert not CartLine.objects.exists()


def test_a_json_body_a_thousand_levels_deep_is_refused_at_registration(client):
    body = deep_body({"email": "deep@example.com", "password": "a-long-passphrase-42"})

    response = post_json(client, "/api/v1/auth/register/", body)

    assert response.status_code == 400
    assert response.json() == TOO_DEEP
    assert not get_user_model().objects.exists()


def test_a_json_body_a_thousand_levels_deep_is_refused_at_login(client):
    UserFactory(email="ada@example.com", password="pw-ada-12345")

    body = deep_body({"email": "ada@example.com", "password": "pw-ada-12345"})
    response = post_json(client, "/api/v1/auth/login/", body)

    assert response.status_code == 400
    assert response.json() == TOO_DEEP
    assert not AuthToken.objects.exists()
    assert "_auth_user_id" not in client.session


def test_a_json_body_a_thousand_levels_deep_places_no_order_and_keeps_the_stock(api_client):
    product = ProductFactory(stock=5)
    add_to_cart(api_client, product, 2)

    body = deep_body(order_body(method="cod"))
    response = post_json(api_client, "/api/v1/orders/", body, HTTP_IDEMPOTENCY_KEY="deep-1")

    assert response.status_code == 400
    assert response.json() == TOO_DEEP
    assert not Order.objects.exists()
    assert Product.objects.get(pk=product.pk).stock == 5
    assert CartLine.objects.get().quantity == 2


def test_a_json_body_one_level_over_the_limit_is_refused(client):
    response = post_json(client, "/api/v1/auth/login/", nested(20, {"email": "a@example.com"}))

    assert response.status_code == 400
    assert response.json() == TOO_DEEP


def test_a_json_body_at_the_limit_reaches_validation(client):
    response = post_json(client, "/api/v1/auth/login/", nested(19, {"email": "a@example.com"}))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- An Authorization header the shop cannot verify ---------------------------------------------

UNVERIFIABLE = [
    "Bearer abc",
    "Basic c2hvcDpzZWNyZXQ=",
    "Tokenabc",
    "Token",
    "Token two words",
    "Token bad!chars",
    "",
]


@pytest.mark.parametrize("header", UNVERIFIABLE)
def test_an_authorization_header_the_shop_cannot_verify_is_a_401(client, header):
    response = client.get("/api/v1/cart/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "authentication_failed"
    assert response.json()["detail"]


def test_an_unknown_scheme_is_a_401_even_beside_a_signed_in_session(client):
    shopper = UserFactory(email="ada@example.com", password="pw-12345")
    client.force_login(shopper)

    response = client.get("/api/v1/auth/me/", HTTP_AUTHORIZATION="Bearer abc")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_scheme_adds_nothing_to_the_cart(client):
    product = ProductFactory(stock=5)

    response = client.post(
        "/api/v1/cart/items/",
        {"product_id": product.pk, "quantity": 1},
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer abc",
    )

    assert response.status_code == 401
    assert not CartLine.objects.exists()


def test_a_valid_token_still_authenticates(client):
    shopper = UserFactory(email="ada@example.com", password="pw-12345")
    token = issue_token(user=shopper)

    response = client.get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


def test_storefront_pages_ignore_the_authorization_header(client):
    # They authenticate by the session cookie alone; a proxy's Basic auth in front of a staging
    # shop must not break them.
    response = client.get("/", HTTP_AUTHORIZATION="Basic c2hvcDpzZWNyZXQ=")

    assert response.status_code == 200
