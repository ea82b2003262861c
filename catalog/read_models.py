"""What catalog reads return: named, typed, frozen values, cached and rendered as they are.

The derived rules (in stock, low stock) are defined here once, as functions of the units on
hand with their query forms next to them, and every read model, serializer, template, the admin,
the cart and the checkout use them. A read model carries the URLs its template links to, worked
out once when it is built (and cached), so a listing's template resolves none.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q


def in_stock(stock: int) -> bool:
    """Return whether any unit is on hand."""
    return stock > 0


def in_stock_condition() -> Q:
    """Return the query form of `in_stock`, for filtering products."""
    return Q(stock__gt=0)


def low_stock(stock: int) -> bool:
    """Return whether few units are left (at most LOW_STOCK_THRESHOLD), but some are."""
    return 0 < stock <= settings.LOW_STOCK_THRESHOLD


def low_stock_condition() -> Q:
    """Return the query form of `low_stock`, for filtering products."""
    return Q(stock__gt=0, stock__lte=settings.LOW_STOCK_THRESHOLD)


def fell_to_low_stock(*, before: int, after: int) -> bool:
    """Return whether taking units left few or none where there were more: operators are told."""
    return after <= settings.LOW_STOCK_THRESHOLD < before


class Stocked:
    """The stock rules as properties of anything that has units on hand (product, offer, card)."""

    stock: int

    @property
    def in_stock(self) -> bool:
        return in_stock(self.stock)

    @property
    def low_stock(self) -> bool:
        return low_stock(self.stock)


@dataclass(frozen=True)
class Offer(Stocked):
    """A product's price and stock as carts and orders see them: the fast-moving part of a
    product, cached for the price TTL and dropped whenever an order takes or returns stock."""

    pk: int
    slug: str
    title: str
    price: Decimal
    stock: int
    image: str
    url: str


@dataclass(frozen=True)
class CategoryLink:
    """A category as a link: in a product's breadcrumbs, a card, or a category's children."""

    name: str
    slug: str
    url: str


@dataclass(frozen=True)
class CategoryNode:
    """A shown category in the category tree (the menu, the home page's tiles, the API)."""

    pk: int
    name: str
    slug: str
    description: str
    url: str
    children: tuple["CategoryNode", ...]


@dataclass(frozen=True)
class CategoryDetail:
    """What a category page shows of its category, and the categories its listing covers."""

    pk: int
    name: str
    slug: str
    description: str
    url: str
    ancestors: tuple[CategoryLink, ...]
    children: tuple[CategoryLink, ...]
    subtree_pks: tuple[int, ...]


@dataclass(frozen=True)
class CategoryTree:
    """The whole shown tree, cached as one entry: roots, each category by slug, the hidden."""

    roots: tuple[CategoryNode, ...]
    by_slug: dict[str, CategoryDetail]
    hidden_pks: tuple[int, ...]


@dataclass(frozen=True)
class ProductCard(Stocked):
    """What a listing (category page, search, home page) shows of a product."""

    pk: int
    sku: str
    slug: str
    title: str
    brand: str
    price: Decimal
    stock: int
    image: str
    category: CategoryLink
    created_at: datetime.datetime
    url: str


@dataclass(frozen=True)
class ProductDetail(ProductCard):
    """What the product page shows: the card, its description, attributes and breadcrumbs."""

    description: str
    attributes: dict[str, Any]
    breadcrumbs: tuple[CategoryLink, ...]
    updated_at: datetime.datetime


@dataclass(frozen=True)
class ProductPage:
    """One page of a listing or a search; `count` stops at CATALOG_COUNT_CAP (`count_capped`)."""

    count: int
    count_capped: bool
    page: int
    page_size: int
    num_pages: int
    results: tuple[ProductCard, ...]


@dataclass(frozen=True)
class HomePage:
    """The home page's featured products, topped up with the newest."""

    featured: tuple[ProductCard, ...]
