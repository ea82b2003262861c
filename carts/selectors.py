"""Cart reads: the caller's cart from Redis (rebuilt from the database on a miss), priced now.

While Redis is up, reading a cart runs no SQL: the lines come from its hash, the owner's cart pk
and the products' current prices and stock from the cache.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.utils import timezone
from redis import RedisError

from carts import store
from carts.models import Cart, CartLine
from carts.store import StoredLine
from catalog.read_models import Offer
from catalog.selectors import get_product_offers

log = logging.getLogger(__name__)

SESSION_KEY = "cart_pk"  # a guest's cart pk, kept in the server-side session only


def owner_key(user_pk: int) -> str:
    return f"carts:owner:{user_pk}"


def idle_lifetime(*, guest: bool) -> timedelta:
    """How long a cart lives without a change: DESIGN.md's 24 h for guests, 30 days for accounts."""
    if guest:
        return timedelta(seconds=settings.CACHE_TTLS["guest_cart"])
    return timedelta(days=settings.CART_ACCOUNT_IDLE_DAYS)


def idle_cutoff(*, guest: bool) -> datetime:
    """Return the moment before which a cart's last change makes it idle."""
    return timezone.now() - idle_lifetime(guest=guest)


def is_idle(*, updated_at: datetime, guest: bool) -> bool:
    """Whether a cart last changed at `updated_at` is idle: it has no lines and starts afresh.

    The one idle-cart rule (issue 11): the cart page, the write path (carts.services._touch),
    sign-in's merge, checkout and the sweeper all go by it.
    """
    return updated_at < idle_cutoff(guest=guest)


def get_cart_pk(*, user, session: SessionBase | None) -> int | None:
    """Return the pk of the caller's cart (an account's, else the session's guest cart), if any."""
    if not user.is_authenticated:
        return session.get(SESSION_KEY) if session is not None else None
    pk = cache.get(owner_key(user.pk))
    if pk is None:
        pk = Cart.objects.filter(owner_id=user.pk).values_list("pk", flat=True).first() or 0
        cache.set(owner_key(user.pk), pk, timeout=int(idle_lifetime(guest=False).total_seconds()))
    return pk or None


def _cart_from_database(cart_pk: int) -> tuple[dict[int, StoredLine], int]:
    """Return a cart's lines as written through to the database, and the seconds it has left
    before it goes idle; an idle or missing cart has no lines and a whole lifetime ahead."""
    cart = Cart.objects.filter(pk=cart_pk).values("owner_id", "updated_at").first()
    guest = cart is None or cart["owner_id"] is None
    lifetime = idle_lifetime(guest=guest)
    if cart is None or is_idle(updated_at=cart["updated_at"], guest=guest):
        return {}, int(lifetime.total_seconds())
    rows = CartLine.objects.filter(cart_id=cart_pk).values_list(
        "product_id", "quantity", "price_when_added"
    )
    lines = {product_pk: StoredLine(quantity, price) for product_pk, quantity, price in rows}
    left = cart["updated_at"] + lifetime - timezone.now()
    return lines, max(1, int(left.total_seconds()))


def lines_from_database(cart_pk: int) -> dict[int, StoredLine]:
    """Return a cart's lines as written through to the database; an idle cart has none."""
    return _cart_from_database(cart_pk)[0]


def load_into_redis(cart_pk: int) -> dict[int, StoredLine]:
    """Load a cart from the database into Redis and return its lines.

    It expires there when it goes idle in the database, not a whole lifetime from now, so
    Redis never shows lines the database already counts as gone.
    """
    lines, seconds_left = _cart_from_database(cart_pk)
    store.fill(cart_pk, lines, seconds_left)
    return lines


def stored_lines(cart_pk: int) -> dict[int, StoredLine]:
    """Return a cart's lines from Redis, loading them from the database on a miss.

    Redis unreachable: from the database, with no error for the shopper.
    """
    if store.available():
        try:
            lines = store.read(cart_pk)
            return load_into_redis(cart_pk) if lines is None else lines
        except RedisError as error:
            log.warning("cart %s read from the database: Redis unavailable (%s)", cart_pk, error)
    return lines_from_database(cart_pk)


def count_items(*, user, session: SessionBase | None) -> int:
    """Return how many units the caller's cart holds (the header's count)."""
    cart_pk = get_cart_pk(user=user, session=session)
    if cart_pk is None:
        return 0
    lines = stored_lines(cart_pk)
    return sum(line.quantity for line in lines.values())


def _item(product_pk: int, line: StoredLine, offer: Offer | None) -> dict[str, Any]:
    if offer is None:
        return {
            "product_id": product_pk,
            "slug": "",
            "title": "No longer available",
            "image": "",
            "unit_price": line.price_when_added,
            "quantity": line.quantity,
            "line_total": Decimal("0.00"),
            "price_when_added": line.price_when_added,
            "price_changed": False,
            "available": 0,
            "in_stock": False,
            "for_sale": False,
            "problem": "This product is no longer sold; remove it to check out.",
            "blocking": True,
        }
    price, stock = offer.price, offer.stock
    problem = ""
    if stock == 0:
        problem = "Out of stock since you added it."
    elif line.quantity > stock:
        problem = f"Only {stock} left: lower the quantity to check out."
    elif price != line.price_when_added:
        direction = "dropped" if price < line.price_when_added else "rose"
        problem = f"The price {direction} from {line.price_when_added} since you added it."
    return {
        "product_id": product_pk,
        "slug": offer.slug,
        "title": offer.title,
        "image": offer.image,
        "unit_price": price,
        "quantity": line.quantity,
        "line_total": price * line.quantity,
        "price_when_added": line.price_when_added,
        "price_changed": price != line.price_when_added,
        "available": stock,
        "in_stock": offer.in_stock,
        "for_sale": True,
        "problem": problem,
        "blocking": line.quantity > stock,  # checkout cannot go ahead with this line as it is
    }


def get_cart(*, user, session: SessionBase | None) -> dict[str, Any]:
    """Return the caller's cart priced now, each line flagged if its price or stock changed."""
    cart_pk = get_cart_pk(user=user, session=session)
    lines = stored_lines(cart_pk) if cart_pk else {}
    offers = get_product_offers(pks=lines.keys()) if lines else {}
    items = sorted(
        (_item(pk, line, offers.get(pk)) for pk, line in lines.items()),
        key=lambda item: (item["title"], item["product_id"]),
    )
    return {
        "items": items,
        "item_count": sum(item["quantity"] for item in items),
        "total": sum((item["line_total"] for item in items), Decimal("0.00")),
        "currency": settings.SHOP_CURRENCY,
        "has_problems": any(item["blocking"] for item in items),
        "line_max": settings.CART_LINE_MAX_QUANTITY,
    }
