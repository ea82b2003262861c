"""Order reads, always on the primary: the customer's own orders, and nobody else's."""

from django.db.models import QuerySet

from orders.cod import order_number_from_token
from orders.exceptions import ConfirmationLinkInvalid, OrderNotFound
from orders.models import Order
from orders.numbers import is_well_formed
from shop.customers import Customer

SESSION_ORDERS_KEY = "order_numbers"  # a guest's orders, kept in the server-side session
ORDERS_PER_PAGE = 20  # the order history's page, in the API and the storefront


def orders_for_customer(*, customer: Customer) -> QuerySet[Order]:
    """Return the customer's orders, newest first, with their lines."""
    if customer.is_guest:
        session = customer.session
        numbers = session.get(SESSION_ORDERS_KEY, []) if session is not None else []
        orders = Order.objects.filter(number__in=numbers, customer=None)
    else:
        orders = Order.objects.filter(customer_id=customer.user_pk)
    return orders.prefetch_related("lines").order_by("-created_at", "-pk")


def get_order_for_customer(*, customer: Customer, number: str) -> Order:
    """Return the customer's order with this number; anyone else's is OrderNotFound (a 404)."""
    if not is_well_formed(number):
        raise OrderNotFound()
    order = orders_for_customer(customer=customer).filter(number=number.upper()).first()
    if order is None:
        raise OrderNotFound()
    return order


def get_order_by_confirmation_token(*, token: str) -> Order:
    """Return the cash-on-delivery order a confirmation link names; a bad link is a 404.

    The signed link is the customer's proof, so it works in any browser, signed in or not.
    """
    number = order_number_from_token(token=token)
    order = Order.objects.filter(number=number, payment_method=Order.PaymentMethod.COD).first()
    if order is None:
        raise ConfirmationLinkInvalid()
    return order
