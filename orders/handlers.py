"""What each order event does, once: e-mails, refunds, low-stock alerts, the analytics record.

Each step is idempotent on its own and commits on its own, so a step that fails later never
undoes one that succeeded: an e-mail is recorded by (event, purpose) in the transaction that
sends it, a refund is recorded on the order (and the gateway refunds a charge once however often
it is asked), a sale record is unique per event. The only window left is a crash between sending
an e-mail and committing: then it may go out twice, never zero times (at least once, as any mail
system).

Each attempt is counted before its work, in a transaction of its own. A failed attempt is
retried after OUTBOX_RETRY_SECONDS, doubled at each failure; after OUTBOX_MAX_ATTEMPTS the event
is parked until an operator retries it from the admin (orders/outbox.py, retry_parked_event).
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from catalog.models import Product
from catalog.read_models import fell_to_low_stock
from orders.cod import confirmation_url
from orders.models import Order, OutboxEvent, SaleRecord, SentEmail
from orders.payments import card_gateway
from shop.outbox import due_rows, record_failure, start_attempt

log = logging.getLogger(__name__)

REDELIVERY_DELAY = timedelta(seconds=60)  # an event's own on-commit send gets this long first

EMAILS: dict[str, tuple[str, str]] = {
    OutboxEvent.Kind.ORDER_PLACED: ("confirmation", "Your order {number} is confirmed"),
    OutboxEvent.Kind.ORDER_SHIPPED: ("shipped", "Your order {number} is on its way"),
    OutboxEvent.Kind.ORDER_CANCELLED: ("cancelled", "Your order {number} was cancelled"),
    OutboxEvent.Kind.ORDER_REFUNDED: ("refunded", "Your order {number} was refunded"),
    OutboxEvent.Kind.LATE_PAYMENT: ("refunded", "Your order {number} was refunded"),
}
CONFIRM_SUBJECT = "Please confirm your order {number}"


class RefundFailed(Exception):
    """The gateway would not give a payment back (this attempt fails; a later one retries)."""


def deliver_event(*, event_pk: int) -> bool:
    """Run an event's effects unless delivered or parked; return whether this call delivered it.

    A failure is logged, counted and scheduled for a retry, and does not raise: the redelivery
    sweeper, not the caller, tries again.
    """
    event = _start_attempt(event_pk=event_pk)
    if event is None:
        return False
    try:
        for step in STEPS[event.kind]:
            step(event=event)
    except Exception as error:
        _fail_attempt(event=event, error=error)
        return False
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=timezone.now(), last_error="")
    return True


def undelivered_events(*, older_than: timedelta = REDELIVERY_DELAY, limit: int = 500) -> list[int]:
    """Return the pks of events due for another delivery, oldest first; parked ones are not."""
    return due_rows(
        OutboxEvent.objects.all(), done="delivered_at", older_than=older_than, limit=limit
    )


def _start_attempt(*, event_pk: int) -> OutboxEvent | None:
    """Count an attempt at an event still to deliver, committed before any of its work runs."""
    event = start_attempt(
        OutboxEvent.objects.select_related("order"), pk=event_pk, done="delivered_at"
    )
    return cast(OutboxEvent | None, event)


def _fail_attempt(*, event: OutboxEvent, error: Exception) -> None:
    """Record a failed attempt (retried later, or parked after the last) and log it."""
    outcome = record_failure(event, error=error)
    log.error(
        "event %s (%s, order %s) failed on attempt %s of %s, %s: %s",
        event.pk,
        event.kind,
        event.order.number,
        event.attempts,
        settings.OUTBOX_MAX_ATTEMPTS,
        outcome,
        error,
        exc_info=not isinstance(error, RefundFailed),  # a declined refund needs no traceback
    )


def _send_once(
    *, event: OutboxEvent, purpose: str, to: list[str], subject: str, template: str, context: dict
) -> None:
    """Send an e-mail unless this event sent it already: recorded iff sent.

    The record commits with the send, in a transaction of its own: a failed send leaves no
    record (a retry sends it), and a twin delivery waits on the record's unique key, then skips.
    """
    text = render_to_string(f"orders/email/{template}.txt", context)
    html = render_to_string(f"orders/email/{template}.html", context)
    with transaction.atomic(durable=True):
        _, created = SentEmail.objects.get_or_create(
            event=event, purpose=purpose, defaults={"recipient": to[0]}
        )
        if not created:
            return  # sent by an earlier delivery
        message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
        message.attach_alternative(html, "text/html")
        message.send()


def _send_email(*, event: OutboxEvent) -> None:
    order = event.order
    purpose, subject = EMAILS[event.kind]
    context = {"order": order, "lines": list(order.lines.all())}
    if event.kind == OutboxEvent.Kind.ORDER_PLACED and order.awaiting_confirmation:
        # Cash on delivery: the customer confirms by this link, or the order expires (#12).
        subject = CONFIRM_SUBJECT
        context["confirm_url"] = confirmation_url(order=order)
    _send_once(
        event=event,
        purpose=purpose,
        to=[order.email],
        subject=subject.format(number=order.number),
        template=purpose,
        context=context,
    )


def _alert_low_stock(*, event: OutboxEvent) -> None:
    """Tell the operators about products this order took to or below the low-stock threshold."""
    order = event.order
    sold = {line.product_id: line.quantity for line in order.lines.all() if line.product_id}
    low = [
        product
        for product in Product.objects.filter(pk__in=sold)
        if fell_to_low_stock(before=product.stock + sold[product.pk], after=product.stock)
    ]
    operators = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .values_list("email", flat=True)
    )
    if low and operators:
        _send_once(
            event=event,
            purpose="low_stock",
            to=operators,
            subject=f"Low stock after order {order.number}",
            template="low_stock",
            context={"order": order, "products": low, "threshold": settings.LOW_STOCK_THRESHOLD},
        )


def _refund_payment(*, event: OutboxEvent) -> None:
    """Give a card payment back through the gateway once (cash on delivery is refunded by hand).

    An unpaid card order has no payment reference: nothing to give back. The refund is recorded
    on the order; the gateway call runs outside any transaction.
    """
    order = Order.objects.get(pk=event.order_id)  # as it is now, not as the event was claimed
    if order.payment_method != Order.PaymentMethod.CARD or not order.payment_reference:
        return
    if order.refund_reference:
        return  # refunded by an earlier delivery, or by another event of the order
    result = card_gateway().refund(
        amount=order.total, currency=order.currency, reference=order.payment_reference
    )
    if not result.succeeded:
        raise RefundFailed(result.message)
    Order.objects.filter(pk=order.pk, refund_reference="").update(refund_reference=result.reference)


def _record_sale(*, event: OutboxEvent) -> None:
    order = event.order
    SaleRecord.objects.get_or_create(
        event=event,
        defaults={
            "order_number": order.number,
            "total": order.total,
            "currency": order.currency,
            "units": sum(line.quantity for line in order.lines.all()),
            "payment_method": order.payment_method,
        },
    )


# What each kind of event does, in order. A cancellation tells the shopper at once (its e-mail
# says the money comes back); a refund's e-mail waits until the gateway has refunded.
STEPS: dict[str, list[Callable[..., None]]] = {
    OutboxEvent.Kind.ORDER_PLACED: [_send_email, _alert_low_stock, _record_sale],
    OutboxEvent.Kind.ORDER_CONFIRMED: [],
    OutboxEvent.Kind.ORDER_SHIPPED: [_send_email],
    OutboxEvent.Kind.ORDER_DELIVERED: [],
    OutboxEvent.Kind.ORDER_CANCELLED: [_send_email, _refund_payment],
    OutboxEvent.Kind.ORDER_REFUNDED: [_refund_payment, _send_email],
    OutboxEvent.Kind.LATE_PAYMENT: [_refund_payment, _send_email],
}
