import logging
from datetime import timedelta

import pytest
from celery import current_app
from django.core import mail
from django.utils import timezone

from catalog.models import Product
from orders import handlers, tasks
from orders.models import GatewayCharge, Order, OutboxEvent, SaleRecord
from orders.payments import card_gateway
from orders.services import cancel_expired_orders
from orders.tests.actions import add_to_cart, order_body
from shop.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _place(api_client, product, quantity=1, method="card", token="tok_visa"):
    add_to_cart(api_client, product, quantity)
    response = api_client.post(
        "/api/v1/orders/", order_body(method=method, token=token), format="json"
    )
    assert response.status_code == 201, response.json()
    return Order.objects.get(number=response.json()["number"])


@pytest.fixture
def broker_down():
    """Point Celery at a port nobody listens on, as when the broker is down at commit."""
    conf = current_app.conf
    saved = {k: conf[k] for k in ("task_always_eager", "broker_url", "task_publish_retry")}
    conf.update(
        task_always_eager=False, broker_url="redis://127.0.0.1:1/0", task_publish_retry=False
    )
    yield
    conf.update(saved)


def test_an_order_sends_its_confirmation_once_after_commit(
    api_client, lamp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(api_client, lamp)
    assert [m.subject for m in mail.outbox] == [f"Your order {order.number} is confirmed"]
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert "Brass Desk Lamp" in message.body
    assert message.alternatives[0][1] == "text/html"
    assert SaleRecord.objects.get().order_number == order.number
    assert OutboxEvent.objects.get().delivered_at is not None


def test_nothing_is_sent_before_the_order_commits(
    api_client, lamp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _place(api_client, lamp)
    assert mail.outbox == []
    assert len(callbacks) >= 1


def test_events_lost_while_the_broker_was_down_are_delivered_once_after(
    api_client, lamp, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(api_client, lamp)  # commit happens; queuing the event fails
    event = OutboxEvent.objects.get(order=order)
    assert event.delivered_at is None
    assert mail.outbox == []
    current_app.conf.task_always_eager = True  # the broker is back
    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert tasks.redeliver_events_task.delay().get() == 1
    assert tasks.redeliver_events_task.delay().get() == 0
    assert [m.subject for m in mail.outbox] == [f"Your order {order.number} is confirmed"]
    assert SaleRecord.objects.count() == 1


def test_a_handler_run_twice_sends_one_email(api_client, lamp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        _place(api_client, lamp)
    event = OutboxEvent.objects.get()
    assert handlers.deliver_event(event_pk=event.pk) is True
    assert handlers.deliver_event(event_pk=event.pk) is False
    # Even a redelivery of an event whose delivery mark was lost sends nothing twice.
    OutboxEvent.objects.update(delivered_at=None)
    handlers.deliver_event(event_pk=event.pk)
    assert len(mail.outbox) == 1
    assert SaleRecord.objects.count() == 1


def test_operators_hear_when_an_order_takes_a_product_low(
    api_client, lamp, django_capture_on_commit_callbacks, settings
):
    settings.LOW_STOCK_THRESHOLD = 5
    UserFactory(email="ops@shop.test", password="x", is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(api_client, lamp, quantity=4)  # 8 -> 4: crosses the threshold
    alert = [m for m in mail.outbox if m.to == ["ops@shop.test"]]
    assert [m.subject for m in alert] == [f"Low stock after order {order.number}"]
    assert "LAMP-1 Brass Desk Lamp: 4 left" in alert[0].body


def test_a_cancellation_sends_its_own_email(api_client, lamp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(api_client, lamp)
        api_client.post(f"/api/v1/orders/{order.number}/cancel/")
    assert [m.subject for m in mail.outbox] == [
        f"Your order {order.number} is confirmed",
        f"Your order {order.number} was cancelled",
    ]


# --- Reservations expire --------------------------------------------------------------------


class Crash(BaseException):
    """The process dies between reserving and charging (not an error anything catches)."""


def test_an_unpaid_order_past_its_reservation_is_cancelled_and_its_stock_returned(
    api_client, lamp, monkeypatch, django_capture_on_commit_callbacks
):
    class DyingGateway:
        def charge(self, **kwargs):
            raise Crash()

    monkeypatch.setattr("orders.services.card_gateway", DyingGateway)
    add_to_cart(api_client, lamp, 3)
    with pytest.raises(Crash):
        api_client.post("/api/v1/orders/", order_body(), format="json")
    order = Order.objects.get()
    assert order.status == "pending_payment"
    assert Product.objects.get(pk=lamp.pk).stock == 5
    assert cancel_expired_orders() == 0  # still within its 15 minutes
    Order.objects.update(reserved_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.cancel_expired_orders_task.delay().get() == 1
    assert Order.objects.get().status == "cancelled"
    assert Product.objects.get(pk=lamp.pk).stock == 8


def test_cash_on_delivery_orders_do_not_expire_within_their_confirmation_time(api_client, lamp):
    _place(api_client, lamp, method="cod")
    assert cancel_expired_orders() == 0
    assert Order.objects.get().status == "pending_payment"


def test_cancelling_a_paid_card_order_refunds_the_card(
    api_client, lamp, monkeypatch, django_capture_on_commit_callbacks
):
    from orders.payments import TestCardGateway

    refunds = []
    real_refund = TestCardGateway.refund

    def recording_refund(self, **kwargs):
        refunds.append(kwargs)
        return real_refund(self, **kwargs)

    monkeypatch.setattr(TestCardGateway, "refund", recording_refund)
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(api_client, lamp)
        api_client.post(f"/api/v1/orders/{order.number}/cancel/")
    order.refresh_from_db()
    assert refunds == [
        {"amount": order.total, "currency": "USD", "reference": order.payment_reference}
    ]


def test_cancelling_an_unpaid_order_refunds_nothing(
    api_client, lamp, monkeypatch, django_capture_on_commit_callbacks
):
    from orders.payments import TestCardGateway

    monkeypatch.setattr(TestCardGateway, "refund", lambda self, **kw: pytest.fail("refunded"))
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(api_client, lamp, method="cod")
        api_client.post(f"/api/v1/orders/{order.number}/cancel/")
    assert Order.objects.get().status == "cancelled"


# --- A side effect that keeps failing -------------------------------------------------------


def _cancel_with_refunds_declined(api_client, product, capture) -> OutboxEvent:
    """Cancel a paid order whose card the gateway will not refund; its first delivery fails."""
    order = _place(api_client, product, token="tok_refund_declined")
    with capture(execute=True):
        assert api_client.post(f"/api/v1/orders/{order.number}/cancel/").status_code == 200
    return OutboxEvent.objects.get(order=order, kind=OutboxEvent.Kind.ORDER_CANCELLED)


def _redeliver_when_due(event: OutboxEvent) -> int:
    """Let the event's wait pass, then run the redelivery sweeper; return how many it queued."""
    OutboxEvent.objects.filter(pk=event.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    return tasks.redeliver_events_task.delay().get()


def _cancellation_emails(order: Order) -> list[str]:
    subject = f"Your order {order.number} was cancelled"
    return [m.subject for m in mail.outbox if m.subject == subject]


def test_a_refund_failing_on_every_delivery_sends_the_cancellation_email_once(
    api_client, lamp, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_MAX_ATTEMPTS = 5
    event = _cancel_with_refunds_declined(api_client, lamp, django_capture_on_commit_callbacks)
    for _ in range(3):
        assert _redeliver_when_due(event) == 1
    event.refresh_from_db()
    assert (event.attempts, event.delivered_at) == (4, None)
    assert _cancellation_emails(event.order) == [f"Your order {event.order.number} was cancelled"]
    assert card_gateway().find_charge(reference=event.order.number).refunded is False


def test_each_failed_attempt_is_counted_and_waits_twice_as_long_as_the_one_before(
    api_client, lamp, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_MAX_ATTEMPTS = 5
    settings.OUTBOX_RETRY_SECONDS = 60
    before = timezone.now()
    event = _cancel_with_refunds_declined(api_client, lamp, django_capture_on_commit_callbacks)
    after = timezone.now()
    for attempt, wait in ((1, 60), (2, 120), (3, 240)):
        if attempt > 1:
            before = timezone.now()
            _redeliver_when_due(event)
            after = timezone.now()
        event.refresh_from_db()
        assert event.attempts == attempt
        assert before + timedelta(seconds=wait) <= event.next_attempt_at
        assert event.next_attempt_at <= after + timedelta(seconds=wait)
        assert event.last_error == "The gateway declined the refund."


def test_an_event_failing_its_last_attempt_is_parked_and_not_redelivered(
    api_client, lamp, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    event = _cancel_with_refunds_declined(api_client, lamp, django_capture_on_commit_callbacks)
    assert [_redeliver_when_due(event) for _ in range(3)] == [1, 1, 0]
    event.refresh_from_db()
    assert event.attempts == 3
    assert event.parked_at is not None
    assert event.delivered_at is None


def test_a_failing_delivery_run_inline_is_logged_as_a_failure(
    api_client, lamp, settings, caplog, django_capture_on_commit_callbacks
):
    settings.OUTBOX_MAX_ATTEMPTS = 8
    settings.OUTBOX_RETRY_SECONDS = 60
    with caplog.at_level(logging.INFO, logger="orders"):
        event = _cancel_with_refunds_declined(api_client, lamp, django_capture_on_commit_callbacks)
    logged = [r for r in caplog.records if r.name.startswith("orders")]
    assert [(r.name, r.levelname, r.getMessage()) for r in logged] == [
        (
            "orders.handlers",
            "ERROR",
            f"event {event.pk} (order.cancelled, order {event.order.number}) failed on "
            "attempt 1 of 8, retried in 60 s: The gateway declined the refund.",
        )
    ]


def test_a_refund_the_gateway_accepts_later_is_made_once_and_recorded(
    api_client, lamp, settings, django_capture_on_commit_callbacks
):
    event = _cancel_with_refunds_declined(api_client, lamp, django_capture_on_commit_callbacks)
    GatewayCharge.objects.update(refunds_declined=False)  # the gateway's problem is solved
    assert _redeliver_when_due(event) == 1
    assert _redeliver_when_due(event) == 0
    order = Order.objects.get(pk=event.order_id)
    charge = GatewayCharge.objects.get(order_number=order.number, succeeded=True)
    assert order.refund_reference == charge.refund_reference
    assert OutboxEvent.objects.get(pk=event.pk).delivered_at is not None
    assert len(_cancellation_emails(order)) == 1
