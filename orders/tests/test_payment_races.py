"""A card payment racing a cancellation or the expiry sweeper, in real threads on PostgreSQL.

Each placement runs in its own thread with its own connection. The test gateway stands behind a
slow network: it charges the card, then holds its answer until the test lets it through, so the
other party (the shopper's second tab, the sweeper) runs while the card is being charged.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import Product
from orders.models import Order, OutboxEvent
from orders.payments import TestCardGateway, card_gateway
from orders.services import cancel_expired_orders
from orders.tests.actions import add_to_cart, order_body
from shop.accounts.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

WAIT = 30  # seconds a step may take before the test gives up; never reached when it passes


class Running(threading.Thread):
    """A call running in its own thread, on its own database connection."""

    def __init__(self, call):
        super().__init__(daemon=True)
        self.call = call
        self.value = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.value = self.call()
        except BaseException as error:
            self.error = error
        finally:
            connections.close_all()

    def result(self):
        self.join(WAIT)
        assert not self.is_alive(), f"{self.call} did not finish in {WAIT} s"
        if self.error is not None:
            raise self.error
        return self.value


class SlowGateway(TestCardGateway):
    """The test gateway behind a slow network: it charges, then answers when the test says so."""

    def __init__(self):
        self.charging = threading.Event()
        self.may_answer = threading.Event()

    def charge(self, **kwargs):
        result = super().charge(**kwargs)
        self.charging.set()
        assert self.may_answer.wait(WAIT)
        return result


@pytest.fixture
def gateway(monkeypatch) -> SlowGateway:
    slow = SlowGateway()
    monkeypatch.setattr("orders.services.card_gateway", lambda: slow)
    return slow


@pytest.fixture
def shopper(postgres):
    return UserFactory(email="ada@example.com", password="x")


def _tab(user) -> APIClient:
    """One of the shopper's browser tabs (each thread gets its own client)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def _place_while_charging(shopper, product, gateway, *, quantity=2, token="tok_visa"):
    """Start placing an order in a thread; return it once the gateway is charging the card."""
    tab = _tab(shopper)
    add_to_cart(tab, product, quantity)
    placing = Running(lambda: tab.post("/api/v1/orders/", order_body(token=token), format="json"))
    assert gateway.charging.wait(WAIT), placing.result()
    return placing, Order.objects.get()


def _expire(order: Order) -> None:
    """The charge has outlasted the order's reservation."""
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))


def _sweep_pausing_after_the_list(listed: threading.Event, may_go: threading.Event) -> int:
    """Run the expiry sweeper, held between listing the expired orders and changing the first."""

    def pause_after_listing(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not listed.is_set() and "reserved_until" in sql and "FOR UPDATE" not in sql:
            listed.set()
            assert may_go.wait(WAIT)
        return result

    with connection.execute_wrapper(pause_after_listing):
        return cancel_expired_orders()


def _stock(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def test_the_sweeper_leaves_an_order_paid_after_it_listed_it(shopper, lamp, gateway):
    placing, order = _place_while_charging(shopper, lamp, gateway)
    _expire(order)
    listed, may_go = threading.Event(), threading.Event()
    sweeping = Running(lambda: _sweep_pausing_after_the_list(listed, may_go))
    assert listed.wait(WAIT), sweeping.result()
    gateway.may_answer.set()  # the payment is confirmed while the sweeper holds its list
    response = placing.result()
    may_go.set()
    assert sweeping.result() == 0
    assert (response.status_code, response.json()["status"]) == (201, "paid")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert _stock(lamp) == 6
    assert not order.events.filter(kind=OutboxEvent.Kind.ORDER_CANCELLED).exists()


def test_the_sweeper_leaves_an_order_whose_reservation_was_extended_after_it_listed_it(
    shopper, lamp, gateway
):
    placing, order = _place_while_charging(shopper, lamp, gateway)
    _expire(order)
    listed, may_go = threading.Event(), threading.Event()
    sweeping = Running(lambda: _sweep_pausing_after_the_list(listed, may_go))
    assert listed.wait(WAIT), sweeping.result()
    later = timezone.now() + timedelta(minutes=5)
    Order.objects.filter(pk=order.pk).update(reserved_until=later)
    may_go.set()
    assert sweeping.result() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT
    assert _stock(lamp) == 6
    gateway.may_answer.set()
    assert placing.result().status_code == 201


def test_a_charge_that_lands_after_the_shopper_cancelled_is_refunded_and_said_so(
    shopper, lamp, gateway
):
    placing, order = _place_while_charging(shopper, lamp, gateway)
    cancelled = _tab(shopper).post(f"/api/v1/orders/{order.number}/cancel/")
    assert cancelled.status_code == 200
    gateway.may_answer.set()
    response = placing.result()
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Order {order.number} was cancelled while your card was being charged, so "
        "it was not placed; the 91.00 USD charged is being refunded to your card.",
        "code": "order_cancelled_during_payment",
    }
    charge = card_gateway().find_charge(reference=order.number)
    order.refresh_from_db()
    assert (order.status, order.payment_reference) == (Order.Status.CANCELLED, charge.reference)
    assert charge.refunded is True
    assert _stock(lamp) == 8


def test_a_charge_that_lands_after_the_sweeper_expired_the_order_is_refunded(
    shopper, lamp, gateway
):
    placing, order = _place_while_charging(shopper, lamp, gateway)
    _expire(order)
    assert cancel_expired_orders() == 1
    gateway.may_answer.set()
    response = placing.result()
    assert (response.status_code, response.json()["code"]) == (
        409,
        "order_cancelled_during_payment",
    )
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert card_gateway().find_charge(reference=order.number).refunded is True
    assert _stock(lamp) == 8


def test_a_card_declined_after_the_shopper_cancelled_returns_the_stock_once(shopper, lamp, gateway):
    placing, order = _place_while_charging(shopper, lamp, gateway, token="tok_declined")
    assert _tab(shopper).post(f"/api/v1/orders/{order.number}/cancel/").status_code == 200
    gateway.may_answer.set()
    response = placing.result()
    assert response.status_code == 402
    assert _stock(lamp) == 8
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
