"""Order writes: placing an order, moving it through its statuses, expiring unpaid ones.

The API and the storefront place orders through place_order_once, which runs place_order at
most once per Idempotency-Key (the key store is orders/idempotency.py).

Placing a card order takes three short transactions, because the card is charged between them
and no network call may run inside one: reserve (take the stock, create the order), charge, then
confirm (paid, cart emptied) or release (stock returned, order deleted: nothing was placed).

A shopper or the expiry sweeper may cancel the order while its card is being charged, and the
process may die after the charge: every successful charge still ends in a paid order or a
refund. Confirming a cancelled order records the charge and refunds it through the outbox, and
reconcile_card_payments asks the gateway about the orders whose charge was never recorded.

A cash-on-delivery order is placed in one transaction, within its caps (orders/cod.py), and
holds its stock like a card reservation until its customer or an operator confirms it
(confirm_cod_order); the same sweeper cancels it if nobody does (issue 12).
"""

from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from carts.selectors import get_cart_pk, lines_from_database
from carts.services import remove_ordered_lines
from carts.store import StoredLine
from catalog.models import Product
from catalog.selectors import for_sale
from catalog.stock import StockLine, return_stock, take_stock
from orders import idempotency
from orders.cod import hold_cod_allowance
from orders.exceptions import (
    EmptyCart,
    OrderCancelledDuringPayment,
    PaymentDeclined,
    ProductNoLongerSold,
    TransitionRefused,
)
from orders.idempotency import ABANDONED_AFTER, Answer, Claim
from orders.models import (
    CANCELLABLE,
    IdempotencyKey,
    Order,
    OrderLine,
    OutboxEvent,
    can_move,
)
from orders.numbers import new_order_number
from orders.outbox import record_event
from orders.outputs import OrderOutput
from orders.payments import Charge, card_gateway
from orders.selectors import SESSION_ORDERS_KEY
from shop.accounts.models import User
from shop.customers import Customer
from shop.exceptions import ShopError


@dataclass(frozen=True)
class AddressData:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    phone: str


@dataclass(frozen=True)
class PaymentData:
    method: str
    token: str = ""


@dataclass(frozen=True)
class CheckoutDetails:
    """What a customer orders with, normalised: an idempotency key recognises its request by it."""

    email: str
    address: AddressData
    payment: PaymentData


EVENT_FOR_STATUS: dict[str, str] = {
    Order.Status.SHIPPED: OutboxEvent.Kind.ORDER_SHIPPED,
    Order.Status.DELIVERED: OutboxEvent.Kind.ORDER_DELIVERED,
    Order.Status.CANCELLED: OutboxEvent.Kind.ORDER_CANCELLED,
    Order.Status.REFUNDED: OutboxEvent.Kind.ORDER_REFUNDED,
}


# --- Placing an order -----------------------------------------------------------------------


def place_order_once(
    *,
    customer: Customer,
    details: CheckoutDetails,
    idempotency_key: str | None,
    client_address: str | None,
) -> Answer:
    """Place the customer's order at most once per idempotency key; answer every request with
    that key as the first was answered.

    A ShopError is an answer too, and kept. Without a key (or a guest without a session yet)
    the order is placed unguarded. The key is recognised by `details`, which the API and the
    storefront normalise alike (orders/inputs.py), so either may replay the other's request.
    """
    scope = idempotency.key_scope(customer=customer)
    if idempotency_key is None or scope is None:
        return _answer_placing(customer=customer, details=details, client_address=client_address)[0]
    claim = idempotency.claim_key(
        scope=scope, key=idempotency_key, digest=idempotency.request_digest(body=asdict(details))
    )
    if claim.answer is not None:
        return claim.answer
    if claim.order is not None:  # placed, but its answer died with the process
        return idempotency.keep_answer(claim=claim, answer=_answer(claim.order), order=claim.order)
    try:
        answer, order = _answer_placing(
            customer=customer, details=details, client_address=client_address, claim=claim
        )
    except Exception:
        idempotency.release_claim(claim=claim)
        raise
    return idempotency.keep_answer(claim=claim, answer=answer, order=order)


def _answer_placing(
    *,
    customer: Customer,
    details: CheckoutDetails,
    client_address: str | None,
    claim: Claim | None = None,
) -> tuple[Answer, Order | None]:
    """Place the order; return the answer (the order, or why not) and the order placed."""
    try:
        order = place_order(
            customer=customer,
            details=details,
            idempotency_claim=claim.pk if claim else None,
            client_address=client_address,
        )
    except ShopError as error:
        body = {"detail": error.detail, "code": error.code, **error.extra}
        return Answer(error.status_code, body), None
    return _answer(order), order


def _answer(order: Order) -> Answer:
    return Answer(201, OrderOutput(order).data)


def place_order(
    *,
    customer: Customer,
    details: CheckoutDetails,
    idempotency_claim: int | None = None,
    client_address: str | None = None,
) -> Order:
    """Order everything in the customer's cart: stock taken and, for a card, paid; or nothing.

    `client_address`, where the request came from, counts a guest's cash-on-delivery orders.

    `idempotency_claim`, the caller's claimed Idempotency-Key, gets the order in the order's own
    transaction, so a retry finds it even if this process dies before answering.
    """
    cart_pk = get_cart_pk(customer=customer)
    cart = lines_from_database(cart_pk=cart_pk) if cart_pk else {}  # the primary's, not Redis's
    if cart_pk is None or not cart:
        raise EmptyCart()
    order = _reserve(
        customer=customer,
        cart_pk=cart_pk,
        cart=cart,
        details=details,
        idempotency_claim=idempotency_claim,
        client_address=client_address,
    )
    payment = details.payment
    if payment.method == Order.PaymentMethod.CARD:
        result = card_gateway().charge(
            amount=order.total, currency=order.currency, token=payment.token, reference=order.number
        )
        if not result.succeeded:
            _release(order_pk=order.pk)
            raise PaymentDeclined(f"{result.message} Nothing was ordered.")
        order = _confirm_payment(order_pk=order.pk, cart_pk=cart_pk, reference=result.reference)
        if order.status != Order.Status.PAID:
            raise OrderCancelledDuringPayment(
                f"Order {order.number} was cancelled while your card was being charged, so it "
                f"was not placed; the {order.total} {order.currency} charged is being refunded "
                "to your card."
            )
    if customer.is_guest and customer.session is not None:
        customer.session[SESSION_ORDERS_KEY] = [
            *customer.session.get(SESSION_ORDERS_KEY, []),
            order.number,
        ]
    return order


@transaction.atomic(durable=True)
def _reserve(
    *,
    customer: Customer,
    cart_pk: int,
    cart: dict[int, StoredLine],
    details: CheckoutDetails,
    idempotency_claim: int | None,
    client_address: str | None,
) -> Order:
    """Take the stock and create the order with its prices and titles frozen.

    A card order is reserved until it is paid, a cash-on-delivery one until it is confirmed.
    """
    products = {
        product["pk"]: product
        for product in for_sale(Product.objects.filter(pk__in=cart), fresh=True).values(
            "pk", "sku", "title", "price"
        )
    }
    gone = [pk for pk in cart if pk not in products]
    if gone:
        raise ProductNoLongerSold(
            f"{len(gone)} product(s) in your cart are no longer sold; remove them to check out."
        )
    address, payment = details.address, details.payment
    card = payment.method == Order.PaymentMethod.CARD
    if not card:
        hold_cod_allowance(
            customer=customer,
            email=details.email,
            client_address=client_address,
            units=sum(line.quantity for line in cart.values()),
        )
    lines = [
        OrderLine(
            product_id=pk,
            sku=products[pk]["sku"],
            title=products[pk]["title"],
            unit_price=products[pk]["price"],
            quantity=line.quantity,
            line_total=products[pk]["price"] * line.quantity,
        )
        for pk, line in sorted(cart.items())
    ]
    order = Order.objects.create(
        number=new_order_number(),
        customer_id=customer.user_pk,
        email=details.email,
        payment_method=payment.method,
        shipping_name=address.name,
        shipping_line1=address.line1,
        shipping_city=address.city,
        shipping_postal_code=address.postal_code,
        shipping_country=address.country,
        shipping_phone=address.phone,
        total=sum((line.line_total for line in lines), Decimal("0.00")),
        currency=settings.SHOP_CURRENCY,
        reserved_until=timezone.now()
        + timedelta(
            minutes=settings.ORDER_RESERVATION_MINUTES if card else settings.COD_CONFIRM_MINUTES
        ),
        client_address=client_address,
    )
    for line in lines:
        line.order = order
    OrderLine.objects.bulk_create(lines)
    take_stock(lines=_stock_lines(lines), reference=order.number)
    if idempotency_claim is not None:
        IdempotencyKey.objects.filter(pk=idempotency_claim).update(order=order)
    if not card:  # cash on delivery: placed now (to be confirmed), paid at the door
        record_event(order=order, kind=OutboxEvent.Kind.ORDER_PLACED)
        remove_ordered_lines(cart_pk=cart_pk, product_pks=cart)
    return order


@transaction.atomic(durable=True)
def _confirm_payment(*, order_pk: int, cart_pk: int | None, reference: str) -> Order:
    """Record the order's charge: paid if it is still pending, else the money goes back.

    A pending order is paid even past its reservation: until it is cancelled it holds its stock.
    """
    order = Order.objects.select_for_update().get(pk=order_pk)
    return _record_charge(order=order, reference=reference, cart_pk=cart_pk)


def _record_charge(*, order: Order, reference: str, cart_pk: int | None) -> Order:
    """Give a locked order the charge the gateway made for it; return the order."""
    if order.payment_reference:  # recorded already: by reconciliation, or by this request
        return order
    order.payment_reference = reference
    order.save(update_fields=["payment_reference", "updated_at"])
    if order.status != Order.Status.PENDING_PAYMENT:
        # Cancelled while the card was being charged (#11): the charge is refunded, never kept.
        record_event(order=order, kind=OutboxEvent.Kind.LATE_PAYMENT)
        return order
    order = _move(order=order, expected={Order.Status.PENDING_PAYMENT}, to=Order.Status.PAID)
    record_event(order=order, kind=OutboxEvent.Kind.ORDER_PLACED)
    if cart_pk is not None:
        remove_ordered_lines(
            cart_pk=cart_pk, product_pks=order.lines.values_list("product_id", flat=True)
        )
    return order


@transaction.atomic(durable=True)
def _release(*, order_pk: int) -> None:
    """Undo a reservation whose payment failed: stock back, order gone.

    An order cancelled meanwhile has had its stock back already, and stays as it is.
    """
    order = Order.objects.select_for_update().get(pk=order_pk)
    if order.status != Order.Status.PENDING_PAYMENT:
        return
    return_stock(lines=_stock_lines(order.lines.all()), reference=order.number, reason="return")
    order.delete()


def _stock_lines(lines: Iterable[OrderLine]) -> list[StockLine]:
    return [StockLine(line.product_id, line.quantity) for line in lines if line.product_id]


# --- Moving an order through its statuses ---------------------------------------------------


def _move(*, order: Order, expected: Collection[str], to: str, actor: User | None = None) -> Order:
    """Change a locked order's status from one of `expected` to `to`, with its side effects.

    The caller names the statuses it means to move from, so a change that landed since it
    looked (a payment, a cancel) is refused rather than overridden (#11).
    """
    if order.status not in expected or not can_move(order=order, to=to):
        if order.status in expected and to == Order.Status.SHIPPED and order.awaiting_confirmation:
            raise TransitionRefused(
                f"Order {order.number} is not confirmed yet; confirm it before it ships."
            )
        raise TransitionRefused(
            f"Order {order.number} is {order.get_status_display().lower()}; "
            f"it cannot become {Order.Status(to).label.lower()}."
        )
    restock = to == Order.Status.CANCELLED or (
        to == Order.Status.REFUNDED and order.status == Order.Status.PAID
    )
    if restock:
        return_stock(lines=_stock_lines(order.lines.all()), reference=order.number, actor=actor)
    order.status = to
    order.reserved_until = None
    order.save(update_fields=["status", "reserved_until", "updated_at"])
    if to != Order.Status.PAID:  # a paid order is placed: _record_charge records order.placed
        record_event(order=order, kind=EVENT_FOR_STATUS[to])
    return order


@transaction.atomic(durable=True)
def transition_order(
    *, order_pk: int, expected: Collection[str], to: str, actor: User | None = None
) -> Order:
    """Move an order from one of `expected` to `to`, or raise TransitionRefused.

    Cancelling returns the stock.
    """
    order = Order.objects.select_for_update().get(pk=order_pk)
    return _move(order=order, expected=expected, to=to, actor=actor)


def cancel_order(*, order: Order, customer: Customer) -> Order:
    """Cancel the customer's order not yet shipped and return its stock."""
    actor = customer.user if isinstance(customer.user, User) else None  # a guest is nobody
    return transition_order(
        order_pk=order.pk, expected=CANCELLABLE, to=Order.Status.CANCELLED, actor=actor
    )


@transaction.atomic(durable=True)
def confirm_cod_order(*, order_pk: int) -> Order:
    """Confirm a cash-on-delivery order: it keeps its stock until it ships or is cancelled.

    Confirming twice changes nothing (a link used again, two operators). Like a card payment,
    a confirmation is taken even past the reservation, as long as the order is not cancelled.
    """
    order = Order.objects.select_for_update().get(pk=order_pk)
    if order.payment_method == Order.PaymentMethod.COD and order.confirmed_at is not None:
        return order
    if not order.awaiting_confirmation:
        raise TransitionRefused(
            f"Order {order.number} is {order.get_status_display().lower()}; it cannot be confirmed."
        )
    order.confirmed_at = timezone.now()
    order.reserved_until = None
    order.save(update_fields=["confirmed_at", "reserved_until", "updated_at"])
    record_event(order=order, kind=OutboxEvent.Kind.ORDER_CONFIRMED)
    return order


def cancel_expired_orders() -> int:
    """Cancel card orders left unpaid, and cash-on-delivery orders left unconfirmed, past their
    reservation, and return their stock."""
    expired = Order.objects.filter(
        status=Order.Status.PENDING_PAYMENT, reserved_until__lt=timezone.now()
    ).values_list("pk", flat=True)
    return sum(_cancel_if_expired(order_pk=pk) for pk in list(expired[:1000]))


@transaction.atomic(durable=True)
def _cancel_if_expired(*, order_pk: int) -> bool:
    """Cancel the order if, under its lock, it is still unpaid past its reservation."""
    order = Order.objects.select_for_update().get(pk=order_pk)
    if not _expired(order):
        return False  # paid, cancelled or reconciled since the sweeper listed it
    _move(order=order, expected={Order.Status.PENDING_PAYMENT}, to=Order.Status.CANCELLED)
    return True


def _expired(order: Order) -> bool:
    return (
        order.status == Order.Status.PENDING_PAYMENT
        and order.reserved_until is not None
        and order.reserved_until < timezone.now()
    )


# --- Charges the shop never recorded ---------------------------------------------------------


def reconcile_card_payments(*, limit: int = 500) -> int:
    """Settle card orders whose charge was never recorded; return how many were looked up.

    Run by beat. It asks the gateway, by order number, about pending and cancelled card orders
    with no payment reference once the request that placed them is over (no request outlives
    ABANDONED_AFTER), so it never races a charge still in flight. Each order is asked once.
    A cancelled order that has a payment reference is not asked: its refund is the outbox's.
    """
    unreconciled = Order.objects.filter(
        payment_method=Order.PaymentMethod.CARD,
        payment_reference="",
        reconciled_at=None,
        status__in=[Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED],
        created_at__lt=timezone.now() - ABANDONED_AFTER,
    ).order_by("created_at")
    orders = list(unreconciled.values_list("pk", "number")[:limit])
    gateway = card_gateway()
    for pk, number in orders:
        _settle_charge(order_pk=pk, charge=gateway.find_charge(reference=number))
    return len(orders)


@transaction.atomic(durable=True)
def _settle_charge(*, order_pk: int, charge: Charge | None) -> None:
    """Give a locked order the gateway's charge, if there is one, and mark it reconciled."""
    order = Order.objects.select_for_update().get(pk=order_pk)
    order.reconciled_at = timezone.now()
    order.save(update_fields=["reconciled_at"])
    if charge is None or order.payment_reference:
        return  # never charged (the expiry sweeper cancels it), or recorded since it was listed
    if _expired(order):
        # Past its reservation the shopper has heard nothing for longer than the shop holds
        # stock, and has likely ordered again: a late surprise order is worse than the money
        # back. Cancelled with its charge recorded, the order.cancelled event refunds it.
        order.payment_reference = charge.reference
        order.save(update_fields=["payment_reference", "updated_at"])
        _move(order=order, expected={Order.Status.PENDING_PAYMENT}, to=Order.Status.CANCELLED)
        return
    # A cancelled order's charge is refunded (_record_charge). One still within its reservation
    # is confirmed as paid: its stock is still held for the shopper, who paid, and whose retry
    # with the same Idempotency-Key is answered from this order.
    customer = Customer(user=order.customer, session=None) if order.customer else None
    cart_pk = get_cart_pk(customer=customer) if customer else None
    _record_charge(order=order, reference=charge.reference, cart_pk=cart_pk)
