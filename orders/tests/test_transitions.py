"""Where an order may go next: ALLOWED_TRANSITIONS, asked through can_move, is the whole rule."""

from itertools import product

import pytest
from django.utils import timezone

from orders.models import Order, can_move

Status, Method = Order.Status, Order.PaymentMethod

# The shop's promise, written out: every move any order may make...
ANY_ORDER = {
    (Status.PENDING_PAYMENT, Status.PAID),
    (Status.PENDING_PAYMENT, Status.CANCELLED),
    (Status.PAID, Status.SHIPPED),
    (Status.PAID, Status.CANCELLED),
    (Status.PAID, Status.REFUNDED),
    (Status.SHIPPED, Status.DELIVERED),
    (Status.SHIPPED, Status.REFUNDED),
    (Status.DELIVERED, Status.REFUNDED),
}
# ...and the one only a confirmed cash-on-delivery order makes: it ships unpaid (issue 12).
CONFIRMED_CASH_ON_DELIVERY_ONLY = {(Status.PENDING_PAYMENT, Status.SHIPPED)}


def _order(*, status: str, method: str, confirmed: bool) -> Order:
    return Order(
        number="0000000000-0",
        status=status,
        payment_method=method,
        confirmed_at=timezone.now() if confirmed else None,
    )


@pytest.mark.parametrize(
    ("start", "to", "method", "confirmed"),
    list(product(Status.values, Status.values, Method.values, [False, True])),
)
def test_an_order_may_make_exactly_the_moves_the_table_promises(start, to, method, confirmed):
    order = _order(status=start, method=method, confirmed=confirmed)
    promised = (start, to) in ANY_ORDER or (
        (start, to) in CONFIRMED_CASH_ON_DELIVERY_ONLY and method == Method.COD and confirmed
    )
    assert can_move(order=order, to=to) is promised
