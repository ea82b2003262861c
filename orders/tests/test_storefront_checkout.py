"""The storefront's checkout, confirmation, order history and cancelling, via the test client."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from carts.models import CartLine
from catalog.models import Product
from catalog.tests.factories import ProductFactory
from orders.models import Order
from orders.tests.actions import (
    CHECKOUT_ADDRESS,
    CHECKOUT_KEY,
    add_on_storefront,
    checkout_form,
)
from shop.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kettle(db):
    return ProductFactory(
        title="Copper Kettle", slug="copper-kettle", price=Decimal("49.50"), stock=5
    )


@pytest.fixture
def shopper(db):
    return UserFactory(email="ada@example.com", password="pw-Ada-1234")


@pytest.fixture
def shopper_client(client, shopper):
    client.force_login(shopper)
    return client


def cart_quantities() -> dict[str, int]:
    return dict(CartLine.objects.values_list("product__title", "quantity"))


def stock_of(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def place(client, product, quantity: int = 1, **changes) -> Order:
    add_on_storefront(client, product, quantity)
    response = client.post("/orders/checkout/", checkout_form(client, **changes))
    assert response.status_code == 302
    return Order.objects.get(number=response["Location"].split("/")[2])


# --- Checkout -------------------------------------------------------------------------------


def test_the_checkout_page_shows_the_cart_and_prefills_the_account_email(shopper_client, kettle):
    add_on_storefront(shopper_client, kettle, 2)
    page = shopper_client.get("/orders/checkout/").content.decode()
    assert "Copper Kettle" in page
    assert "$99.00" in page
    assert 'value="ada@example.com"' in page
    assert "tok_declined" in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_checkout_with_an_empty_cart_goes_back_to_the_cart_with_a_message(client):
    response = client.get("/orders/checkout/", follow=True)
    assert response.redirect_chain == [("/cart/", 302)]
    assert "Your cart is empty: add something before checking out." in response.content.decode()


def test_a_card_checkout_places_a_paid_order_empties_the_cart_and_takes_stock(
    shopper_client, shopper, kettle, django_capture_on_commit_callbacks
):
    add_on_storefront(shopper_client, kettle, 2)
    form = checkout_form(shopper_client)
    with django_capture_on_commit_callbacks(execute=True):
        response = shopper_client.post("/orders/checkout/", form)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/confirmation/"
    assert (order.customer, order.status, order.payment_method) == (shopper, "paid", "card")
    assert (order.total, order.shipping_country) == (Decimal("99.00"), "GB")
    assert cart_quantities() == {}
    assert stock_of(kettle) == 3
    assert [(message.to, message.subject) for message in mail.outbox] == [
        (["ada@example.com"], f"Your order {order.number} is confirmed")
    ]


def test_the_confirmation_page_thanks_and_shows_the_order(shopper_client, kettle):
    order = place(shopper_client, kettle, 2)
    page = shopper_client.get(f"/orders/{order.number}/confirmation/").content.decode()
    for text in ("Thank you", order.number, "Paid", "Copper Kettle", "$99.00", "Ada Lovelace"):
        assert text in page
    assert "12 Analytical Row" in page
    assert 'href="/orders/"' in page


def test_a_cash_on_delivery_checkout_places_a_pending_order_and_takes_stock(
    client, kettle, django_capture_on_commit_callbacks
):
    add_on_storefront(client, kettle, 1)
    form = checkout_form(client, payment_method="cod", card_token="")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/orders/checkout/", form)

    order = Order.objects.get()
    assert response["Location"] == f"/orders/{order.number}/confirmation/"
    assert (order.customer, order.status, order.payment_method) == (None, "pending_payment", "cod")
    assert cart_quantities() == {}
    assert stock_of(kettle) == 4
    assert len(mail.outbox) == 1
    page = client.get(response["Location"]).content.decode()
    assert "Cash on delivery" in page
    assert "Pay on delivery" in page


def test_a_declined_card_shows_why_and_places_no_order_and_keeps_stock_and_cart(
    shopper_client, kettle
):
    add_on_storefront(shopper_client, kettle, 2)
    form = checkout_form(shopper_client, card_token="tok_declined")
    response = shopper_client.post("/orders/checkout/", form)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Your card was declined. Nothing was ordered." in page
    assert not Order.objects.exists()
    assert stock_of(kettle) == 5
    assert cart_quantities() == {"Copper Kettle": 2}
    retry_key = CHECKOUT_KEY.search(page).group(1)
    assert retry_key != form["idempotency_key"]  # so the shopper can fix the card and retry
    assert 'value="Ada Lovelace"' in page


def test_after_a_declined_card_the_shopper_retries_with_the_new_key_and_orders(
    shopper_client, kettle
):
    add_on_storefront(shopper_client, kettle, 1)
    page = shopper_client.post(
        "/orders/checkout/", checkout_form(shopper_client, card_token="tok_declined")
    ).content.decode()
    retry = {**CHECKOUT_ADDRESS, "payment_method": "card", "card_token": "tok_visa"}
    response = shopper_client.post(
        "/orders/checkout/", retry | {"idempotency_key": CHECKOUT_KEY.search(page).group(1)}
    )
    assert response.status_code == 302
    assert Order.objects.get().status == "paid"


def test_the_same_form_posted_twice_places_one_order_and_both_see_its_confirmation(
    shopper_client, kettle
):
    add_on_storefront(shopper_client, kettle, 1)
    form = checkout_form(shopper_client)
    first = shopper_client.post("/orders/checkout/", form)
    second = shopper_client.post("/orders/checkout/", form)

    order = Order.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/orders/{order.number}/confirmation/"
    assert stock_of(kettle) == 4


def test_a_guest_posting_the_same_form_twice_places_one_order(client, kettle):
    add_on_storefront(client, kettle, 1)
    form = checkout_form(client, payment_method="cod", card_token=None)
    first = client.post("/orders/checkout/", form)
    second = client.post("/orders/checkout/", form)
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1
    assert client.get(second["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": ""}, "This field is required."),
        ({"line1": "   "}, "This field may not be blank."),
        ({"postal_code": "!"}, "Enter a postal code of 3 to 20 letters, digits and spaces."),
        ({"country": "Germany"}, "Enter a two-letter country code, e.g. DE."),
        ({"phone": "call me"}, "Enter a phone number of digits, spaces, ( ) and -."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"payment_method": "bitcoin"}, "&quot;bitcoin&quot; is not a valid choice."),
        ({"card_token": ""}, "A card payment needs a token."),
        ({"card_token": "tok_stolen"}, "Unknown card token &#x27;tok_stolen&#x27;."),
    ],
)
def test_an_invalid_field_shows_its_error_and_changes_nothing(
    shopper_client, kettle, changes, error
):
    add_on_storefront(shopper_client, kettle, 2)
    response = shopper_client.post("/orders/checkout/", checkout_form(shopper_client, **changes))

    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<ul class="field-errors"[^>]*role="alert"><li>' + re.escape(error), page)
    assert not Order.objects.exists()
    assert stock_of(kettle) == 5
    assert cart_quantities() == {"Copper Kettle": 2}


def test_an_empty_form_shows_an_error_next_to_every_address_field(shopper_client, kettle):
    add_on_storefront(shopper_client, kettle, 1)
    response = shopper_client.post("/orders/checkout/", {"payment_method": "cod"})
    page = response.content.decode()
    for field in ("email", "name", "line1", "city", "postal_code", "country", "phone"):
        assert f'id="id_{field}_error"' in page
    assert not Order.objects.exists()


def test_checkout_refuses_a_post_without_a_csrf_token(kettle):
    strict = Client(enforce_csrf_checks=True)
    page = strict.get("/cart/")  # a session and a CSRF cookie, but no token in the form
    assert page.status_code == 200
    response = strict.post("/orders/checkout/", {**CHECKOUT_ADDRESS, "payment_method": "cod"})
    assert response.status_code == 403
    assert not Order.objects.exists()


# --- Someone else's order -------------------------------------------------------------------


def test_someone_elses_order_is_a_404_for_its_detail_confirmation_and_cancel(
    shopper_client, kettle
):
    order = place(shopper_client, kettle)
    stranger = Client()
    stranger.force_login(UserFactory(email="eve@example.com", password="pw-Eve-1234"))
    for caller in (stranger, Client()):  # another account, and a guest
        assert caller.get(f"/orders/{order.number}/").status_code == 404
        assert caller.get(f"/orders/{order.number}/confirmation/").status_code == 404
        assert caller.post(f"/orders/{order.number}/cancel/").status_code == 404
    assert Order.objects.get().status == "paid"


def test_an_unknown_order_number_is_the_404_page(shopper_client):
    response = shopper_client.get("/orders/0000000000-0/")
    assert response.status_code == 404
    assert "No such order." in response.content.decode()


# --- One order, cancelling ------------------------------------------------------------------


def test_the_order_page_shows_lines_address_status_and_a_cancel_form(shopper_client, kettle):
    order = place(shopper_client, kettle, 2)
    page = shopper_client.get(f"/orders/{order.number}/").content.decode()
    for text in (order.number, "Copper Kettle", "$99.00", "Ada Lovelace", "London", "Paid"):
        assert text in page
    assert f'action="/orders/{order.number}/cancel/"' in page


def test_cancelling_a_paid_order_returns_its_stock_and_shows_it_cancelled(shopper_client, kettle):
    order = place(shopper_client, kettle, 2)
    assert stock_of(kettle) == 3

    response = shopper_client.post(f"/orders/{order.number}/cancel/", follow=True)

    page = response.content.decode()
    assert response.redirect_chain == [(f"/orders/{order.number}/", 302)]
    assert f"Order {order.number} is cancelled." in page
    assert "order-status-cancelled" in page
    assert "Cancel order" not in page
    assert Order.objects.get().status == "cancelled"
    assert stock_of(kettle) == 5


def test_cancelling_a_cancelled_order_is_refused_with_a_message(shopper_client, kettle):
    order = place(shopper_client, kettle, 2)
    shopper_client.post(f"/orders/{order.number}/cancel/")

    response = shopper_client.post(f"/orders/{order.number}/cancel/", follow=True)

    assert f"Order {order.number} is cancelled; it cannot become cancelled." in (
        response.content.decode()
    )
    assert stock_of(kettle) == 5


def test_a_shipped_order_has_no_cancel_form(shopper_client, kettle):
    order = place(shopper_client, kettle)
    Order.objects.filter(pk=order.pk).update(status="shipped")
    page = shopper_client.get(f"/orders/{order.number}/").content.decode()
    assert "Shipped" in page
    assert "Cancel order" not in page


def test_cancel_takes_only_posts(shopper_client, kettle):
    order = place(shopper_client, kettle)
    assert shopper_client.get(f"/orders/{order.number}/cancel/").status_code == 405


# --- History --------------------------------------------------------------------------------


def test_the_history_lists_only_the_callers_orders_newest_first(shopper_client, kettle):
    first = place(shopper_client, kettle)
    second = place(shopper_client, kettle, payment_method="cod", card_token="")
    guest = Client()
    someone_elses = place(guest, kettle, payment_method="cod", card_token="")

    page = shopper_client.get("/orders/").content.decode()
    assert page.index(second.number) < page.index(first.number)
    assert someone_elses.number not in page
    assert f'href="/orders/{first.number}/"' in page
    assert "Pay on delivery" in page
    guest_page = guest.get("/orders/").content.decode()
    assert someone_elses.number in guest_page
    assert first.number not in guest_page


def test_the_history_of_someone_without_orders_says_so(client):
    assert "No orders yet" in client.get("/orders/").content.decode()


def test_the_cart_page_links_to_checkout_and_to_the_order_history(client, kettle):
    add_on_storefront(client, kettle)
    page = client.get("/cart/").content.decode()
    assert 'href="/orders/checkout/"' in page
    assert 'href="/orders/"' in page


def test_the_cart_page_disables_checkout_while_a_line_needs_attention(client, kettle):
    add_on_storefront(client, kettle, 5)
    Product.objects.filter(pk=kettle.pk).update(stock=2)
    cache.clear()  # a bare update leaves the catalog cache's stock as it was
    page = client.get("/cart/").content.decode()
    assert 'href="/orders/checkout/"' not in page
    assert "Some products need your attention before you can check out." in page


def test_a_cash_on_delivery_order_reads_pay_on_delivery_in_the_history(client, kettle):
    place(client, kettle, payment_method="cod")
    page = client.get("/orders/").content.decode()
    assert "Pay on delivery" in page
    assert "Pending payment" not in page
