"""What cart reads return: the cart priced now, each line with what the page and the API show."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from carts.store import StoredLine
from catalog.read_models import Offer


@dataclass(frozen=True)
class CartLineView:
    """A line priced now: the product's offer against what the shopper saw when adding it."""

    product_pk: int
    slug: str
    title: str
    url: str
    image: str
    unit_price: Decimal
    quantity: int
    price_when_added: Decimal
    available: int  # units in stock now
    in_stock: bool
    for_sale: bool

    @classmethod
    def of(cls, *, product_pk: int, line: StoredLine, offer: Offer | None) -> CartLineView:
        """Return the line as it stands against `offer`, the product now (None: not for sale)."""
        if offer is None:
            return cls(
                product_pk=product_pk,
                slug="",
                title="No longer available",
                url="",
                image="",
                unit_price=line.price_when_added,
                quantity=line.quantity,
                price_when_added=line.price_when_added,
                available=0,
                in_stock=False,
                for_sale=False,
            )
        return cls(
            product_pk=product_pk,
            slug=offer.slug,
            title=offer.title,
            url=offer.url,
            image=offer.image,
            unit_price=offer.price,
            quantity=line.quantity,
            price_when_added=line.price_when_added,
            available=offer.stock,
            in_stock=offer.in_stock,
            for_sale=True,
        )

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity if self.for_sale else Decimal("0.00")

    @property
    def price_changed(self) -> bool:
        return self.unit_price != self.price_when_added

    @property
    def blocking(self) -> bool:
        """Whether checkout cannot go ahead with this line as it is."""
        return not self.for_sale or self.quantity > self.available

    @property
    def problem(self) -> str:
        """Why this line needs the shopper's attention, or ""."""
        if not self.for_sale:
            return "This product is no longer sold; remove it to check out."
        if not self.in_stock:
            return "Out of stock since you added it."
        if self.quantity > self.available:
            return f"Only {self.available} left: lower the quantity to check out."
        if self.price_changed:
            direction = "dropped" if self.unit_price < self.price_when_added else "rose"
            return f"The price {direction} from {self.price_when_added} since you added it."
        return ""


@dataclass(frozen=True)
class CartView:
    """The caller's cart priced now, its lines by title."""

    items: tuple[CartLineView, ...]
    currency: str
    line_max: int  # CART_LINE_MAX_QUANTITY, the quantity inputs' maximum

    @property
    def item_count(self) -> int:
        """Return the units in the cart."""
        return sum(item.quantity for item in self.items)

    @property
    def total(self) -> Decimal:
        return sum((item.line_total for item in self.items), Decimal("0.00"))

    @property
    def has_problems(self) -> bool:
        return any(item.blocking for item in self.items)
