"""The cart's SQL mirror: every change Redis makes is written here too, in the same request, so a
lost Redis node loses no cart; with Redis away the cart lives here alone.

Statements only: what a shopper may change (the caps) and in which transaction is for
carts.services to decide.
"""

from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from carts.models import Cart, CartLine
from carts.selectors import idle_cutoff, is_idle

_LINES = CartLine._meta.db_table
# One statement each, whether or not the cart holds the line: a new line keeps its price. Only
# the model's own table name is formatted in; every value is a bound parameter.
_INSERT = (
    f"INSERT INTO {_LINES} (cart_id, product_id, quantity, price_when_added, added_at) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (cart_id, product_id) DO UPDATE SET "
)
_ADD_UNITS = f"{_INSERT} quantity = {_LINES}.quantity + EXCLUDED.quantity"
_SET_UNITS = f"{_INSERT} quantity = EXCLUDED.quantity"


def touch_or_start_afresh(*, cart_pk: int, guest: bool) -> None:
    """Mark the cart changed now; an idle cart first loses its old lines: it starts afresh.

    One statement while the cart is in use; the rare idle cart takes a short locked transaction.
    """
    in_use = Cart.objects.filter(pk=cart_pk, updated_at__gte=idle_cutoff(guest=guest)).update(
        updated_at=timezone.now()
    )
    if not in_use:
        _start_afresh(cart_pk=cart_pk, guest=guest)


# Not durable: it runs alone after a Redis change, and inside the database path's and the
# merge's transactions.
@transaction.atomic
def _start_afresh(*, cart_pk: int, guest: bool) -> None:
    # Locked, and checked again under the lock: two writers to one idle cart clear it once, and
    # neither clears the other's new line.
    updated_at = (
        Cart.objects.select_for_update()
        .filter(pk=cart_pk)
        .values_list("updated_at", flat=True)
        .first()
    )
    if updated_at is None:
        return  # swept meanwhile: the line's write fails, and add_to_cart starts a new cart
    if is_idle(updated_at=updated_at, guest=guest):
        CartLine.objects.filter(cart_id=cart_pk).delete()
    Cart.objects.filter(pk=cart_pk).update(updated_at=timezone.now())


def held_units(*, cart_pk: int, product_pk: int) -> int:
    """Lock the product's line, if the cart holds one, and return its units (0 if none)."""
    quantity = (
        CartLine.objects.select_for_update()
        .filter(cart_id=cart_pk, product_id=product_pk)
        .values_list("quantity", flat=True)
        .first()
    )
    return quantity or 0


def count_lines(*, cart_pk: int) -> int:
    """Return how many lines the cart holds."""
    return CartLine.objects.filter(cart_id=cart_pk).count()


def _write(sql: str, *, cart_pk: int, product_pk: int, quantity: int, price: Decimal) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, [cart_pk, product_pk, quantity, price, timezone.now()])


def add_units(*, cart_pk: int, product_pk: int, quantity: int, price: Decimal) -> None:
    """Add units to the product's line, creating it at `price` if the cart has none."""
    _write(_ADD_UNITS, cart_pk=cart_pk, product_pk=product_pk, quantity=quantity, price=price)


def set_units(*, cart_pk: int, product_pk: int, quantity: int, price: Decimal) -> None:
    """Set the units of the product's line; create it at `price` if the mirror lost it (the
    cart went idle here an instant before Redis let its copy expire)."""
    _write(_SET_UNITS, cart_pk=cart_pk, product_pk=product_pk, quantity=quantity, price=price)


def delete_line(*, cart_pk: int, product_pk: int) -> None:
    """Delete the product's line, if the cart holds one."""
    CartLine.objects.filter(cart_id=cart_pk, product_id=product_pk).delete()


def delete_lines(*, cart_pk: int, product_pks: list[int]) -> None:
    """Delete the lines of these products, if the cart holds them."""
    CartLine.objects.filter(cart_id=cart_pk, product_id__in=product_pks).delete()
