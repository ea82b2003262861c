"""Cash on delivery's own rules (issue 12): unit caps per order and per customer, and the link
that confirms an order.

Nothing is paid up front for a cash-on-delivery order, so nothing stops a guest with made-up
details from holding a sale's stock: each order is capped, a customer's open orders together
are capped, and an order nobody confirms gives its stock back after COD_CONFIRM_MINUTES.
"""

import hashlib

from django.conf import settings
from django.core import signing
from django.db import connection
from django.db.models import Q, Sum
from django.urls import reverse

from orders.exceptions import CashOnDeliveryLimit, ConfirmationLinkInvalid
from orders.models import Order, OrderLine
from shop.customers import Customer

CONFIRMATION_SALT = "orders.cod-confirmation"


# --- Caps ---------------------------------------------------------------------------------


def hold_cod_allowance(
    *, customer: Customer, email: str, client_address: str | None, units: int
) -> None:
    """Refuse (CashOnDeliveryLimit) a cash-on-delivery order over the per-order or per-customer cap.

    Call it inside the transaction that creates the order: the customer's advisory locks, held
    until that commits, make a second order of the same customer wait for the first, so two
    simultaneous orders cannot both fit under the cap that only one fits.
    """
    per_order = settings.COD_MAX_UNITS_PER_ORDER
    if units > per_order:
        raise CashOnDeliveryLimit(
            f"Cash on delivery is limited to {per_order} units per order; this order has "
            f"{units}. Pay by card, or order fewer.",
            cap="COD_MAX_UNITS_PER_ORDER",
            limit=per_order,
        )
    # Whose open orders count, and up to how many units: an account, else a guest's e-mail
    # address and (with its own, larger cap: many honest shoppers share one address behind a
    # mobile carrier's or an office's NAT) the client address, so changing one is not enough.
    if not customer.is_guest:
        account = customer.user_pk
        counted = [(f"account:{account}", Q(customer_id=account), "COD_MAX_UNITS_PER_CUSTOMER")]
    else:
        counted = [(f"email:{email}", Q(email=email), "COD_MAX_UNITS_PER_CUSTOMER")]
        if client_address:
            address = Q(client_address=client_address)
            counted.append((f"address:{client_address}", address, "COD_MAX_UNITS_PER_ADDRESS"))
    _lock([key for key, _, _ in counted])
    for _, theirs, cap in counted:
        held = (
            OrderLine.objects.filter(
                order__in=Order.objects.filter(
                    theirs,
                    payment_method=Order.PaymentMethod.COD,
                    status=Order.Status.PENDING_PAYMENT,
                )
            ).aggregate(units=Sum("quantity"))["units"]
            or 0
        )
        limit = getattr(settings, cap)
        if held + units > limit:
            whose, held_in = (
                ("the open orders from one address", "open orders from your address")
                if cap == "COD_MAX_UNITS_PER_ADDRESS"
                else ("a customer's open orders", "your open cash-on-delivery orders")
            )
            raise CashOnDeliveryLimit(
                f"Cash on delivery is limited to {limit} units across {whose}; {held} are in "
                f"{held_in} and this order has {units}. Pay by card, or wait until those ship.",
                cap=cap,
                limit=limit,
            )


def _lock(keys: list[str]) -> None:
    """Take a transaction-level advisory lock per key, in one global order (no deadlock)."""
    if connection.vendor != "postgresql":
        return  # SQLite (make run) writes one transaction at a time anyway
    ids = sorted({_lock_id(key) for key in keys})
    with connection.cursor() as cursor:
        for lock_id in ids:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def _lock_id(key: str) -> int:
    """A signed 64-bit id for the key, in a namespace of its own."""
    digest = hashlib.sha256(f"orders.cod:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# --- The confirmation link ------------------------------------------------------------------


def confirmation_url(*, order: Order) -> str:
    """Return the absolute link that confirms the order, signed, from SHOP_PUBLIC_URL."""
    token = signing.dumps(order.number, salt=CONFIRMATION_SALT)
    return settings.SHOP_PUBLIC_URL + reverse("orders:confirm", kwargs={"token": token})


def order_number_from_token(*, token: str) -> str:
    """Return the order number a confirmation link was signed for, or raise (a 404)."""
    try:
        number = signing.loads(token, salt=CONFIRMATION_SALT)
    except signing.BadSignature:
        raise ConfirmationLinkInvalid() from None
    if not isinstance(number, str):
        raise ConfirmationLinkInvalid()
    return number
