"""What each order event does, once: e-mails, low-stock alerts, the analytics record.

Delivery locks the event row, so two deliveries of one event run one after the other and the
second finds it delivered. Each e-mail is also recorded by (event, purpose), so nothing is sent
twice. The only window left is a crash between sending and committing: then an e-mail may go
out twice, never zero times (at least once, as any mail system).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from catalog.models import Product
from orders.models import Order, OutboxEvent, SaleRecord, SentEmail
from orders.payments import card_gateway

log = logging.getLogger(__name__)

REDELIVERY_DELAY = timedelta(seconds=60)  # an event's own on-commit send gets this long first

EMAILS = {
    OutboxEvent.Kind.ORDER_PLACED: ("confirmation", "Your order {number} is confirmed"),
    OutboxEvent.Kind.ORDER_SHIPPED: ("shipped", "Your order {number} is on its way"),
    OutboxEvent.Kind.ORDER_CANCELLED: ("cancelled", "Your order {number} was cancelled"),
    OutboxEvent.Kind.ORDER_REFUNDED: ("refunded", "Your order {number} was refunded"),
    OutboxEvent.Kind.LATE_PAYMENT: ("refunded", "Your order {number} was refunded"),
}
# Events whose card payment goes back: a cancelled or refunded order, a charge after a cancel.
REFUNDING = {
    OutboxEvent.Kind.ORDER_CANCELLED,
    OutboxEvent.Kind.ORDER_REFUNDED,
    OutboxEvent.Kind.LATE_PAYMENT,
}


def deliver_event(*, event_pk: int) -> bool:
    """Run an event's effects unless it was delivered already; return whether this call did."""
    with transaction.atomic():
        event = (
            OutboxEvent.objects.select_for_update()
            .select_related("order")
            .filter(pk=event_pk)
            .first()
        )
        if event is None or event.delivered_at is not None:
            return False
        event.attempts += 1
        if event.kind in EMAILS:
            _send_email(event=event)
        if event.kind == OutboxEvent.Kind.ORDER_PLACED:
            _alert_low_stock(event=event)
            _record_sale(event=event)
        if event.kind in REFUNDING:
            _refund_payment(event=event)
        event.delivered_at = timezone.now()
        event.save(update_fields=["attempts", "delivered_at"])
    return True


def undelivered_events(*, older_than: timedelta = REDELIVERY_DELAY, limit: int = 500) -> list[int]:
    """Return the pks of events still undelivered after `older_than`, oldest first."""
    cutoff = timezone.now() - older_than
    return list(
        OutboxEvent.objects.filter(delivered_at=None, created_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def _send_once(
    *, event: OutboxEvent, purpose: str, to: list[str], subject: str, template: str, context: dict
) -> None:
    try:
        with transaction.atomic():
            SentEmail.objects.create(event=event, purpose=purpose, recipient=to[0])
    except IntegrityError:
        return  # sent by an earlier delivery
    text = render_to_string(f"orders/email/{template}.txt", context)
    html = render_to_string(f"orders/email/{template}.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(html, "text/html")
    message.send()


def _send_email(*, event: OutboxEvent) -> None:
    order = event.order
    purpose, subject = EMAILS[event.kind]
    _send_once(
        event=event,
        purpose=purpose,
        to=[order.email],
        subject=subject.format(number=order.number),
        template=purpose,
        context={"order": order, "lines": list(order.lines.all())},
    )


def _alert_low_stock(*, event: OutboxEvent) -> None:
    """Tell the operators about products this order took to or below the low-stock threshold."""
    order = event.order
    sold = {line.product_id: line.quantity for line in order.lines.all() if line.product_id}
    low = [
        product
        for product in Product.objects.filter(pk__in=sold, stock__lte=settings.LOW_STOCK_THRESHOLD)
        if product.stock + sold[product.pk] > settings.LOW_STOCK_THRESHOLD  # crossed just now
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
    on the order.
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
        raise RuntimeError(f"refund of {order.number} failed: {result.message}")
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
