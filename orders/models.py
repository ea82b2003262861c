from collections.abc import Callable

from django.conf import settings
from django.db import models
from django.db.models import Q

from shop.outbox import DeliveryAttempts


class Order(models.Model):
    """A placed order: its lines' prices and titles frozen, its status moved only by transitions."""

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Pending payment"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        REFUNDED = "refunded", "Refunded"

    class PaymentMethod(models.TextChoices):
        CARD = "card", "Card"
        COD = "cod", "Cash on delivery"

    number = models.CharField(max_length=16, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        related_name="orders",
        on_delete=models.SET_NULL,
    )
    email = models.EmailField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, db_index=True
    )
    payment_method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    payment_reference = models.CharField(max_length=64, blank=True)
    refund_reference = models.CharField(max_length=64, blank=True)
    # When reconcile_card_payments asked the gateway about an order whose charge was never
    # recorded; each such order is asked once, so the scan does not grow with history (#11).
    reconciled_at = models.DateTimeField(null=True, blank=True)
    shipping_name = models.CharField(max_length=120)
    shipping_line1 = models.CharField(max_length=200)
    shipping_city = models.CharField(max_length=100)
    shipping_postal_code = models.CharField(max_length=20)
    shipping_country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code")
    shipping_phone = models.CharField(max_length=32)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    # A card order not paid by then, or a cash-on-delivery order not confirmed by then, is
    # cancelled and its stock returned (cancel_expired_orders).
    reserved_until = models.DateTimeField(null=True, blank=True)
    # When a cash-on-delivery order was confirmed, by the customer's e-mailed link or by an
    # operator; until then it holds its stock only until reserved_until (issue 12).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Where the order was placed from: a guest's cash-on-delivery cap counts by it (issue 12).
    client_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="order_customer_newest"),
            models.Index(
                fields=["reserved_until"],
                name="order_unpaid_reservation",
                condition=Q(status="pending_payment", reserved_until__isnull=False),
            ),
            # A customer's open cash-on-delivery orders, which count against their cap.
            *(
                models.Index(
                    fields=[field],
                    name=f"order_open_cod_{field}",
                    condition=Q(payment_method="cod", status="pending_payment"),
                )
                for field in ("customer", "email", "client_address")
            ),
            models.Index(
                fields=["created_at"],
                name="order_unreconciled",
                condition=Q(
                    payment_method="card",
                    payment_reference="",
                    reconciled_at=None,
                    status__in=["pending_payment", "cancelled"],
                ),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def awaiting_confirmation(self) -> bool:
        """A cash-on-delivery order nobody has confirmed yet: it expires at reserved_until."""
        return (
            self.payment_method == Order.PaymentMethod.COD
            and self.status == Order.Status.PENDING_PAYMENT
            and self.confirmed_at is None
        )


def _always(order: Order) -> bool:
    return True


def _confirmed_cash_on_delivery(order: Order) -> bool:
    """Whether the order is paid at the door and its customer confirmed it (issue 12)."""
    return order.payment_method == Order.PaymentMethod.COD and order.confirmed_at is not None


# Each status, where it may go next, and which orders may; anything else is refused
# (orders/services.py). A cash-on-delivery order ships unpaid, once confirmed.
ALLOWED_TRANSITIONS: dict[str, dict[str, Callable[[Order], bool]]] = {
    Order.Status.PENDING_PAYMENT: {
        Order.Status.PAID: _always,
        Order.Status.CANCELLED: _always,
        Order.Status.SHIPPED: _confirmed_cash_on_delivery,
    },
    Order.Status.PAID: {
        Order.Status.SHIPPED: _always,
        Order.Status.CANCELLED: _always,
        Order.Status.REFUNDED: _always,
    },
    Order.Status.SHIPPED: {Order.Status.DELIVERED: _always, Order.Status.REFUNDED: _always},
    Order.Status.DELIVERED: {Order.Status.REFUNDED: _always},
    Order.Status.CANCELLED: {},
    Order.Status.REFUNDED: {},
}


def can_move(*, order: Order, to: str) -> bool:
    """Return whether the order may go from its status to `to`."""
    allowed = ALLOWED_TRANSITIONS[order.status].get(to)
    return allowed is not None and allowed(order)


def statuses_before(to: str) -> frozenset[str]:
    """Return the statuses from which some order may move to `to`."""
    return frozenset(status for status, moves in ALLOWED_TRANSITIONS.items() if to in moves)


# Where a shopper's or an operator's cancel may start: an order not yet shipped.
CANCELLABLE = statuses_before(Order.Status.CANCELLED)


class OrderLine(models.Model):
    """One product in an order, as it was sold: title, SKU and unit price frozen."""

    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    product = models.ForeignKey(
        "catalog.Product", null=True, related_name="+", on_delete=models.SET_NULL
    )
    sku = models.CharField(max_length=32)
    title = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="order_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.title}"


class IdempotencyKey(models.Model):
    """One client's `Idempotency-Key`: the body it came with and the response it got."""

    scope = models.CharField(max_length=80, help_text="Whose key: an account or a session.")
    key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)  # None: still in progress
    response_body = models.JSONField(null=True)
    order = models.ForeignKey(Order, null=True, related_name="+", on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="one_use_per_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class OutboxEvent(DeliveryAttempts):
    """Something that happened to an order, recorded in the order's own transaction.

    A Celery task delivers it after commit; a beat task re-sends any left undelivered once its
    `next_attempt_at` has come. Its effects are keyed by the event, so each happens once however
    often delivery runs. After OUTBOX_MAX_ATTEMPTS failures it is parked until an operator
    retries it (orders/handlers.py).
    """

    class Kind(models.TextChoices):
        ORDER_PLACED = "order.placed", "Order placed"
        # A cash-on-delivery order confirmed by its customer or an operator (issue 12).
        ORDER_CONFIRMED = "order.confirmed", "Order confirmed"
        ORDER_SHIPPED = "order.shipped", "Order shipped"
        ORDER_DELIVERED = "order.delivered", "Order delivered"
        ORDER_CANCELLED = "order.cancelled", "Order cancelled"
        ORDER_REFUNDED = "order.refunded", "Order refunded"
        # The card was charged after the order was cancelled: the money goes back (#11).
        LATE_PAYMENT = "order.late_payment", "Payment after cancellation"

    order = models.ForeignKey(Order, related_name="events", on_delete=models.CASCADE)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outbox_undelivered",
                condition=Q(delivered_at=None, parked_at=None),
            ),
            models.Index(
                fields=["parked_at"], name="outbox_parked", condition=Q(parked_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id}"


class SaleRecord(models.Model):
    """The analytics record of a sale: one per order.placed event."""

    event = models.OneToOneField(OutboxEvent, related_name="+", on_delete=models.CASCADE)
    order_number = models.CharField(max_length=16)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    units = models.PositiveIntegerField()
    payment_method = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Sale {self.order_number}"


class SentEmail(models.Model):
    """Which e-mail an event already sent, so a second delivery sends nothing."""

    event = models.ForeignKey(OutboxEvent, related_name="+", on_delete=models.CASCADE)
    purpose = models.CharField(max_length=32)
    recipient = models.EmailField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "purpose"], name="one_email_per_purpose"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} to {self.recipient}"


class GatewayCharge(models.Model):
    """A charge as the built-in test gateway keeps it: its stand-in for a remote gateway's records.

    Written in its own transaction, never the order's, so every process (web, worker, beat)
    sees what the gateway did even when the shop's own work rolled back or its process died.
    """

    reference = models.CharField(max_length=64, unique=True)
    order_number = models.CharField(max_length=16, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    succeeded = models.BooleanField()
    refunds_declined = models.BooleanField(default=False)
    refund_reference = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.reference
