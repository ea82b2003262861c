"""Every successful card charge ends in a paid order or a refund, even when the process dies."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from catalog.models import Product
from orders import tasks
from orders.idempotency import ABANDONED_AFTER
from orders.models import Order
from orders.payments import TestCardGateway, card_gateway
from orders.services import cancel_expired_orders
from orders.tests.actions import add_to_cart, order_body

pytestmark = pytest.mark.django_db


class ProcessDied(BaseException):
    """The app process is killed at this point (nothing in it catches this)."""


class ChargesThenDies(TestCardGateway):
    """The gateway charges the card; the process that asked dies before it hears back."""

    def charge(self, **kwargs):
        super().charge(**kwargs)
        raise ProcessDied()


class DiesBeforeCharging(TestCardGateway):
    def charge(self, **kwargs):
        raise ProcessDied()


def _place_and_die(api_client, product, monkeypatch, gateway=ChargesThenDies) -> Order:
    add_to_cart(api_client, product, 2)
    with monkeypatch.context() as patch:
        patch.setattr("orders.services.card_gateway", gateway)
        with pytest.raises(ProcessDied):
            api_client.post("/api/v1/orders/", order_body(), format="json")
    return Order.objects.get()


def _request_over(order: Order) -> None:
    """The request that placed the order is over: no request outlives ABANDONED_AFTER."""
    Order.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - ABANDONED_AFTER - timedelta(seconds=1)
    )


def _reservation_over(order: Order) -> None:
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))


def _reconcile(capture) -> int:
    with capture(execute=True):
        return tasks.reconcile_card_payments_task.delay().get()


def _stock(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def test_the_gateway_finds_a_charge_by_order_number(api_client, lamp, monkeypatch):
    order = _place_and_die(api_client, lamp, monkeypatch)
    charge = card_gateway().find_charge(reference=order.number)
    assert (charge.amount, charge.currency, charge.refunded) == (Decimal("91.00"), "USD", False)
    assert charge.reference.startswith("test_ch_")
    assert card_gateway().find_charge(reference="NO-SUCH-ORDER") is None


def test_refunding_a_charge_twice_gives_the_money_back_once(db):
    gateway = card_gateway()
    charged = gateway.charge(
        amount=Decimal("10.00"), currency="USD", token="tok_visa", reference="ORDER-1"
    )
    first = gateway.refund(amount=Decimal("10.00"), currency="USD", reference=charged.reference)
    second = gateway.refund(amount=Decimal("10.00"), currency="USD", reference=charged.reference)
    assert (first.succeeded, second.succeeded) == (True, True)
    assert second.reference == first.reference
    assert gateway.find_charge(reference="ORDER-1").refunded is True


def test_a_charge_whose_request_died_is_confirmed_while_the_reservation_holds(
    api_client, lamp, monkeypatch, django_capture_on_commit_callbacks
):
    order = _place_and_die(api_client, lamp, monkeypatch)
    _request_over(order)
    assert _reconcile(django_capture_on_commit_callbacks) == 1
    charge = card_gateway().find_charge(reference=order.number)
    order.refresh_from_db()
    assert (order.status, order.payment_reference) == (Order.Status.PAID, charge.reference)
    assert charge.refunded is False
    assert _stock(lamp) == 6
    assert [m.subject for m in mail.outbox] == [f"Your order {order.number} is confirmed"]


def test_a_charge_whose_request_died_is_refunded_once_the_reservation_is_over(
    api_client, lamp, monkeypatch, django_capture_on_commit_callbacks
):
    order = _place_and_die(api_client, lamp, monkeypatch)
    _request_over(order)
    _reservation_over(order)
    assert _reconcile(django_capture_on_commit_callbacks) == 1
    charge = card_gateway().find_charge(reference=order.number)
    order.refresh_from_db()
    assert (order.status, order.payment_reference) == (Order.Status.CANCELLED, charge.reference)
    assert charge.refunded is True
    assert _stock(lamp) == 8
    assert [m.subject for m in mail.outbox] == [f"Your order {order.number} was cancelled"]


def test_a_charge_found_after_the_sweeper_cancelled_the_order_is_refunded(
    api_client, lamp, monkeypatch, django_capture_on_commit_callbacks
):
    order = _place_and_die(api_client, lamp, monkeypatch)
    _request_over(order)
    _reservation_over(order)
    with django_capture_on_commit_callbacks(execute=True):
        assert cancel_expired_orders() == 1
    assert _reconcile(django_capture_on_commit_callbacks) == 1
    charge = card_gateway().find_charge(reference=order.number)
    order.refresh_from_db()
    assert (order.status, order.payment_reference) == (Order.Status.CANCELLED, charge.reference)
    assert charge.refunded is True
    assert _stock(lamp) == 8
    assert [m.subject for m in mail.outbox] == [
        f"Your order {order.number} was cancelled",
        f"Your order {order.number} was refunded",
    ]


def test_an_order_never_charged_is_looked_up_once_and_left_to_expire(
    api_client, lamp, monkeypatch, django_capture_on_commit_callbacks
):
    order = _place_and_die(api_client, lamp, monkeypatch, gateway=DiesBeforeCharging)
    _request_over(order)
    assert _reconcile(django_capture_on_commit_callbacks) == 1
    assert _reconcile(django_capture_on_commit_callbacks) == 0
    order.refresh_from_db()
    assert (order.status, order.payment_reference) == (Order.Status.PENDING_PAYMENT, "")
    assert _stock(lamp) == 6


def test_an_order_whose_request_may_still_be_charging_is_not_looked_up(
    api_client, lamp, monkeypatch, django_capture_on_commit_callbacks
):
    order = _place_and_die(api_client, lamp, monkeypatch)
    assert _reconcile(django_capture_on_commit_callbacks) == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT
