"""Stock arithmetic: take and return units with conditional updates that never go below zero.

Rows change in product-id order, so concurrent checkouts lock them in the same order and cannot
deadlock; a shortage anywhere raises OutOfStock naming every short product, and the caller's
transaction undoes whatever was taken.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from catalog.cache import forget_products
from catalog.exceptions import OutOfStock
from catalog.models import Product, StockMovement
from shop.accounts.models import User


@dataclass(frozen=True)
class StockLine:
    """Units of one product to take or return."""

    product_pk: int
    quantity: int


def _merged(*, lines: Sequence[StockLine]) -> list[StockLine]:
    """Return one line per product, its units summed, in product-pk order (the lock order)."""
    units: dict[int, int] = {}
    for line in lines:
        units[line.product_pk] = units.get(line.product_pk, 0) + line.quantity
    return [StockLine(pk, quantity) for pk, quantity in sorted(units.items())]


def take_stock(*, lines: Sequence[StockLine], reference: str, actor: User | None = None) -> None:
    """Take every line's units or raise OutOfStock naming each short product and what is left."""
    short = []
    for line in _merged(lines=lines):
        taken = Product.objects.filter(pk=line.product_pk, stock__gte=line.quantity).update(
            stock=F("stock") - line.quantity
        )
        if not taken:
            short.append(line)
    if short:
        now = {
            pk: (title, stock)
            for pk, title, stock in Product.objects.filter(
                pk__in=[line.product_pk for line in short]
            ).values_list("pk", "title", "stock")
        }
        raise OutOfStock(
            shortages=[
                {
                    "product_id": line.product_pk,
                    "title": now.get(line.product_pk, ("", 0))[0],
                    "requested": line.quantity,
                    "available": now.get(line.product_pk, ("", 0))[1],
                }
                for line in short
            ]
        )
    _record(
        lines=lines, sign=-1, reason=StockMovement.Reason.SALE, reference=reference, actor=actor
    )


def return_stock(
    *,
    lines: Sequence[StockLine],
    reference: str,
    actor: User | None = None,
    reason: str = StockMovement.Reason.RETURN,
) -> None:
    """Put units back on hand (a cancelled or refunded order)."""
    for line in _merged(lines=lines):
        Product.objects.filter(pk=line.product_pk).update(stock=F("stock") + line.quantity)
    _record(lines=lines, sign=1, reason=reason, reference=reference, actor=actor)


def _record(
    *,
    lines: Sequence[StockLine],
    sign: int,
    reason: str,
    reference: str,
    actor: User | None,
) -> None:
    """Record the movements, and drop the products' cached offers once they are committed."""
    merged = _merged(lines=lines)
    StockMovement.objects.bulk_create(
        StockMovement(
            product_id=line.product_pk,
            change=sign * line.quantity,
            reason=reason,
            reference=reference,
            actor=actor,
        )
        for line in merged
    )
    pks = [line.product_pk for line in merged]
    transaction.on_commit(lambda: forget_products(pks=pks))
