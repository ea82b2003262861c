"""What catalog reads return: named, typed, frozen values, cached and rendered as they are.

The derived rules (in stock, low stock) are defined here once, as functions of the units on
hand, and every read model, serializer, template, the cart and the checkout use them.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings


def in_stock(stock: int) -> bool:
    """Return whether any unit is on hand."""
    return stock > 0


def low_stock(stock: int) -> bool:
    """Return whether few units are left (at most LOW_STOCK_THRESHOLD), but some are."""
    return 0 < stock <= settings.LOW_STOCK_THRESHOLD


@dataclass(frozen=True)
class Offer:
    """A product's price and stock as carts and orders see them: the fast-moving part of a
    product, cached for the price TTL and dropped whenever an order takes or returns stock."""

    pk: int
    slug: str
    title: str
    price: Decimal
    stock: int
    image: str

    @property
    def in_stock(self) -> bool:
        return in_stock(self.stock)

    @property
    def low_stock(self) -> bool:
        return low_stock(self.stock)
