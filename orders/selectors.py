"""Order reads, always on the primary: the caller's own orders, and nobody else's."""

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import QuerySet

from orders.exceptions import OrderNotFound
from orders.models import Order
from orders.numbers import is_well_formed

SESSION_ORDERS_KEY = "order_numbers"  # a guest's orders, kept in the server-side session


def orders_for_customer(*, user, session: SessionBase | None) -> QuerySet[Order]:
    """Return the caller's orders, newest first, with their lines."""
    if user.is_authenticated:
        orders = Order.objects.filter(customer=user)
    else:
        numbers = session.get(SESSION_ORDERS_KEY, []) if session is not None else []
        orders = Order.objects.filter(number__in=numbers, customer=None)
    return orders.prefetch_related("lines").order_by("-created_at", "-pk")


def get_order_for_customer(*, user, session: SessionBase | None, number: str) -> Order:
    """Return the caller's order with this number; anyone else's is OrderNotFound (a 404)."""
    if not is_well_formed(number):
        raise OrderNotFound()
    order = orders_for_customer(user=user, session=session).filter(number=number.upper()).first()
    if order is None:
        raise OrderNotFound()
    return order
