from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from carts.models import CartLine
from catalog.models import Product, StockMovement
from orders.models import Order, OutboxEvent
from orders.numbers import is_well_formed
from orders.tests.actions import add_to_cart, order_body
from shop.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _place(client, body=None, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/orders/", body or order_body(), format="json", **headers)


def test_a_card_order_is_placed_paid_and_priced_in_decimal(api_client, lamp, rug):
    add_to_cart(api_client, lamp, 2)
    add_to_cart(api_client, rug, 1)
    response = _place(api_client)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "paid"
    assert body["total"] == "211.00"
    assert body["currency"] == "USD"
    assert [(line["title"], line["quantity"], line["line_total"]) for line in body["lines"]] == [
        ("Brass Desk Lamp", 2, "91.00"),
        ("Wool Rug", 1, "120.00"),
    ]
    assert is_well_formed(body["number"])
    assert Order.objects.get().total == Decimal("211.00")


def test_placing_takes_the_stock_records_why_and_empties_the_cart(
    api_client, lamp, django_capture_on_commit_callbacks
):
    add_to_cart(api_client, lamp, 3)
    with django_capture_on_commit_callbacks(execute=True):  # the cart leaves Redis on commit
        number = _place(api_client).json()["number"]
    assert Product.objects.get(pk=lamp.pk).stock == 5
    movement = StockMovement.objects.get()
    assert (movement.change, movement.reason, movement.reference) == (-3, "sale", number)
    assert api_client.get("/api/v1/cart/").json()["items"] == []
    assert not CartLine.objects.exists()


def test_prices_and_titles_are_frozen_in_the_order(api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    number = _place(api_client).json()["number"]
    Product.objects.filter(pk=lamp.pk).update(price=Decimal("99.00"), title="Renamed")
    line = api_client.get(f"/api/v1/orders/{number}/").json()["lines"][0]
    assert (line["title"], line["unit_price"]) == ("Brass Desk Lamp", "45.50")


def test_cash_on_delivery_is_placed_awaiting_payment_until_confirmed(api_client, lamp, settings):
    # Issue 12: an unconfirmed cash-on-delivery order expires after COD_CONFIRM_MINUTES.
    add_to_cart(api_client, lamp, 1)
    body = _place(api_client, order_body(method="cod")).json()
    assert body["status"] == "pending_payment"
    order = Order.objects.get()
    held = order.reserved_until - order.created_at
    assert round(held.total_seconds()) == settings.COD_CONFIRM_MINUTES * 60
    assert order.confirmed_at is None
    assert OutboxEvent.objects.get().kind == "order.placed"


def test_a_declined_card_places_no_order_and_keeps_stock_and_cart(api_client, lamp):
    add_to_cart(api_client, lamp, 2)
    response = _place(api_client, order_body(token="tok_declined"))
    assert response.status_code == 402
    assert response.json() == {
        "detail": "Your card was declined. Nothing was ordered.",
        "code": "payment_declined",
    }
    assert not Order.objects.exists()
    assert Product.objects.get(pk=lamp.pk).stock == 8
    assert api_client.get("/api/v1/cart/").json()["item_count"] == 2


def test_a_short_line_takes_nothing_and_names_each_short_product(api_client, lamp, rug):
    add_to_cart(api_client, lamp, 2)
    add_to_cart(api_client, rug, 3)
    Product.objects.filter(pk=rug.pk).update(stock=1)
    Product.objects.filter(pk=lamp.pk).update(stock=1)
    response = _place(api_client)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "out_of_stock"
    assert body["detail"] == (
        "Not enough stock for 'Brass Desk Lamp': 1 left, 2 wanted; 'Wool Rug': 1 left, 3 wanted."
    )
    assert [(s["product_id"], s["available"]) for s in body["shortages"]] == [
        (lamp.pk, 1),
        (rug.pk, 1),
    ]
    assert list(Product.objects.order_by("pk").values_list("stock", flat=True)) == [1, 1]
    assert not Order.objects.exists()
    assert not StockMovement.objects.exists()


def test_an_empty_cart_cannot_be_ordered(api_client):
    response = _place(api_client)
    assert response.status_code == 400
    assert response.json() == {"detail": "Your cart is empty.", "code": "empty_cart"}


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"email": "not-an-email"}, "email: Enter a valid email address."),
        ({"email": 42}, "email: Enter a valid email address."),
        ({"shipping_address": {}}, "shipping_address: name: This field is required."),
        (
            {"shipping_address": "12 Road"},
            "shipping_address: Invalid data. Expected a dictionary, but got str.",
        ),
        ({"payment": {"method": "bitcoin"}}, 'payment: method: "bitcoin" is not a valid choice.'),
        ({"payment": {"method": "card"}}, "payment: token: A card payment needs a token."),
        (
            {"payment": {"method": "card", "token": "tok_mystery"}},
            "payment: token: Unknown card token 'tok_mystery'.",
        ),
    ],
)
def test_bad_order_input_is_a_400_and_takes_nothing(api_client, lamp, change, detail):
    add_to_cart(api_client, lamp, 1)
    response = _place(api_client, order_body(**change))
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert not Order.objects.exists()
    assert Product.objects.get(pk=lamp.pk).stock == 8


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("country", "Germany"),
        ("postal_code", "!"),
        ("phone", "call me"),
        ("name", "x" * 121),
        ("city", ""),
        ("line1", None),
    ],
)
def test_malformed_address_fields_are_refused(api_client, lamp, field, value):
    add_to_cart(api_client, lamp, 1)
    body = order_body()
    body["shipping_address"][field] = value
    response = _place(api_client, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"shipping_address: {field}: ")
    assert not Order.objects.exists()


def test_malformed_json_is_a_400(api_client):
    response = api_client.post("/api/v1/orders/", "{", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


# --- Idempotency ----------------------------------------------------------------------------


def test_a_replayed_key_returns_the_same_order_and_places_no_second(api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    first = _place(api_client, key="checkout-1")
    add_to_cart(api_client, lamp, 1)  # even with a cart filled again
    second = _place(api_client, key="checkout-1")
    assert second.status_code == 201
    assert second.json() == first.json()
    assert Order.objects.count() == 1
    assert Product.objects.get(pk=lamp.pk).stock == 7


def test_a_reused_key_with_another_body_is_a_422(api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    _place(api_client, key="checkout-1")
    add_to_cart(api_client, lamp, 1)
    response = _place(api_client, order_body(method="cod"), key="checkout-1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_a_declined_answer_is_replayed_too(api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    first = _place(api_client, order_body(token="tok_declined"), key="k")
    second = _place(api_client, order_body(token="tok_declined"), key="k")
    assert (first.status_code, second.status_code) == (402, 402)
    assert second.json() == first.json()


def test_keys_are_scoped_to_their_caller(lamp):
    ada, bob = APIClient(), APIClient()
    for client in (ada, bob):
        add_to_cart(client, lamp, 1)
    numbers = {_place(client, key="same-key").json()["number"] for client in (ada, bob)}
    assert len(numbers) == 2


def test_an_overlong_key_is_a_400(api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    response = _place(api_client, key="k" * 256)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert not Order.objects.exists()


# --- Reading and cancelling -----------------------------------------------------------------


@pytest.fixture
def ada(db):
    return UserFactory(email="ada@example.com", password="pw-Ada-1234")


def test_a_customer_lists_and_reads_only_their_own_orders(lamp, ada):
    mine, theirs = APIClient(), APIClient()
    mine.force_authenticate(ada)
    add_to_cart(mine, lamp, 1)
    add_to_cart(theirs, lamp, 1)
    my_number = _place(mine).json()["number"]
    their_number = _place(theirs).json()["number"]
    listed = mine.get("/api/v1/orders/").json()
    assert [order["number"] for order in listed["results"]] == [my_number]
    assert mine.get(f"/api/v1/orders/{my_number}/").status_code == 200
    response = mine.get(f"/api/v1/orders/{their_number}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such order.", "code": "order_not_found"}
    assert mine.post(f"/api/v1/orders/{their_number}/cancel/").status_code == 404
    assert Order.objects.get(number=their_number).status == "paid"


def test_a_guest_reads_the_orders_of_their_session(api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    number = _place(api_client).json()["number"]
    assert api_client.get(f"/api/v1/orders/{number}/").json()["number"] == number
    assert APIClient().get(f"/api/v1/orders/{number}/").status_code == 404


def test_a_malformed_order_number_is_a_404(api_client):
    assert api_client.get("/api/v1/orders/NOT-A-NUMBER/").status_code == 404


def test_cancelling_a_paid_order_returns_its_stock(api_client, lamp):
    add_to_cart(api_client, lamp, 3)
    number = _place(api_client).json()["number"]
    response = api_client.post(f"/api/v1/orders/{number}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert Product.objects.get(pk=lamp.pk).stock == 8


def test_a_shipped_order_cannot_be_cancelled(api_client, lamp):
    from orders.services import transition_order

    add_to_cart(api_client, lamp, 1)
    number = _place(api_client).json()["number"]
    transition_order(order_pk=Order.objects.get().pk, expected={"paid"}, to="shipped")
    response = api_client.post(f"/api/v1/orders/{number}/cancel/")
    assert response.status_code == 409
    assert response.json()["detail"] == f"Order {number} is shipped; it cannot become cancelled."
    assert Product.objects.get(pk=lamp.pk).stock == 7


def test_a_move_from_a_status_the_caller_did_not_expect_is_refused_and_changes_nothing(
    api_client, lamp
):
    from orders.exceptions import TransitionRefused
    from orders.services import transition_order

    add_to_cart(api_client, lamp, 1)
    number = _place(api_client).json()["number"]
    order = Order.objects.get()
    events = order.events.count()
    with pytest.raises(TransitionRefused) as refusal:  # paid -> cancelled is allowed, not expected
        transition_order(order_pk=order.pk, expected={"pending_payment"}, to="cancelled")
    assert refusal.value.detail == f"Order {number} is paid; it cannot become cancelled."
    assert Order.objects.get().status == "paid"
    assert Product.objects.get(pk=lamp.pk).stock == 7
    assert order.events.count() == events


def test_a_key_past_its_keeping_time_can_be_used_again(api_client, lamp):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import IdempotencyKey

    add_to_cart(api_client, lamp, 1)
    first = _place(api_client, key="old-key").json()["number"]
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    add_to_cart(api_client, lamp, 1)
    second = _place(api_client, order_body(method="cod"), key="old-key")
    assert second.status_code == 201  # not a 422: the old use is forgotten
    assert second.json()["number"] != first
    assert IdempotencyKey.objects.get().order.number == second.json()["number"]


class ProcessDied(BaseException):
    """The app process is killed at this point (nothing in it catches this)."""


def _die(*args, **kwargs):
    raise ProcessDied()


def _age_claims(seconds: int) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import IdempotencyKey

    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=seconds))


def test_a_retry_after_the_process_died_before_answering_gets_the_order_placed(
    api_client, lamp, monkeypatch
):
    add_to_cart(api_client, lamp, 1)
    with monkeypatch.context() as patch:
        patch.setattr("orders.idempotency.keep_answer", _die)  # dies after the order committed
        with pytest.raises(ProcessDied):
            _place(api_client, order_body(method="cod"), key="k1")
    number = Order.objects.get().number
    _age_claims(60)
    retry = _place(api_client, order_body(method="cod"), key="k1")
    assert retry.status_code == 201
    assert retry.json()["number"] == number
    assert Order.objects.count() == 1


def test_a_retry_after_the_process_died_before_ordering_places_the_order(
    api_client, lamp, monkeypatch
):
    add_to_cart(api_client, lamp, 1)
    with monkeypatch.context() as patch:
        patch.setattr("orders.services._reserve", _die)  # dies before taking any stock
        with pytest.raises(ProcessDied):
            _place(api_client, order_body(method="cod"), key="k1")
    assert not Order.objects.exists()
    _age_claims(60)
    retry = _place(api_client, order_body(method="cod"), key="k1")
    assert retry.status_code == 201
    assert Order.objects.get().number == retry.json()["number"]
    assert Product.objects.get(pk=lamp.pk).stock == 7


def test_a_retry_while_the_first_request_may_still_run_is_told_to_wait(
    api_client, lamp, monkeypatch
):
    add_to_cart(api_client, lamp, 1)
    with monkeypatch.context() as patch:
        patch.setattr("orders.services._reserve", _die)
        with pytest.raises(ProcessDied):
            _place(api_client, order_body(method="cod"), key="k1")
    monkeypatch.setattr("orders.idempotency.WAIT_SECONDS", 0.2)
    retry = _place(api_client, order_body(method="cod"), key="k1")
    assert retry.status_code == 409
    assert retry.json()["code"] == "request_in_progress"
    assert not Order.objects.exists()
