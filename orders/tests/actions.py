"""What order tests do through the public interface: fill a cart, check out by API or form."""

import copy
import re

from carts.tests.actions import add

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+44 20 7946 0958",
}
# The storefront's checkout form: its fields, and the idempotency key the page carries.
CHECKOUT_ADDRESS = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "gb",
    "phone": "+44 20 7946 0000",
}
CHECKOUT_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def order_body(method: str = "card", token: str = "tok_visa", **changes) -> dict:
    """Return the body of POST /api/v1/orders/: Ada's address, paying by `method`, with changes."""
    payment = {"method": method, **({"token": token} if method == "card" else {})}
    body = {"email": "ada@example.com", "shipping_address": dict(ADDRESS), "payment": payment}
    body.update(copy.deepcopy(changes))
    return body


def add_to_cart(client, product, quantity: int) -> None:
    """Add to the cart through the API, which must accept it."""
    response = add(client, product, quantity)
    assert response.status_code == 200, response.json()


def add_on_storefront(client, product, quantity: int = 1) -> None:
    """Add to the cart through the storefront's form, which must accept it."""
    response = client.post("/cart/add/", {"product_id": product.pk, "quantity": quantity})
    assert response.status_code == 302


def checkout_form(client, **changes) -> dict:
    """Return the filled checkout form, with the idempotency key the page was rendered with."""
    page = client.get("/orders/checkout/")
    assert page.status_code == 200
    key = CHECKOUT_KEY.search(page.content.decode()).group(1)
    form = {
        **CHECKOUT_ADDRESS,
        "payment_method": "card",
        "card_token": "tok_visa",
        "idempotency_key": key,
    }
    return {key: value for key, value in (form | changes).items() if value is not None}
