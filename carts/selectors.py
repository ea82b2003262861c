"""Cart reads: the caller's cart from Redis (rebuilt from the database on a miss), priced now.

While Redis is up, reading a cart runs no SQL: the lines come from its hash, the owner's cart pk
and the products' current prices and stock from the cache.
"""

import logging
from datetime import datetime, timedelta
from operator import attrgetter

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from redis import RedisError

from carts import store
from carts.models import Cart, CartLine
from carts.read_models import CartLineView, CartView
from carts.store import StoredLine
from catalog.selectors import get_product_offers
from shop.customers import Customer

log = logging.getLogger(__name__)

SESSION_KEY = "cart_pk"  # a guest's cart pk, kept in the server-side session only


def owner_key(user_pk: int) -> str:
    """Return the cache key of the pk of the account's cart."""
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

    The one idle-cart rule (issue 11): the cart page, the write path
    (carts.mirror.touch_or_start_afresh), sign-in's merge, checkout and the sweeper all go by it.
    """
    return updated_at < idle_cutoff(guest=guest)


def get_cart_pk(*, customer: Customer) -> int | None:
    """Return the pk of the customer's cart (an account's, else the session's), or None."""
    if customer.user_pk is None:
        return customer.session.get(SESSION_KEY) if customer.session is not None else None
    pk = cache.get(owner_key(customer.user_pk))
    if pk is None:
        pk = Cart.objects.filter(owner_id=customer.user_pk).values_list("pk", flat=True).first()
        remember_cart_pk(user_pk=customer.user_pk, cart_pk=pk or 0)
    return pk or None


def remember_cart_pk(*, user_pk: int, cart_pk: int) -> None:
    """Cache which cart the account owns (0: none yet) for as long as an account cart lives."""
    cache.set(owner_key(user_pk), cart_pk, timeout=int(idle_lifetime(guest=False).total_seconds()))


def _cart_from_database(*, cart_pk: int) -> tuple[dict[int, StoredLine], int]:
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


def lines_from_database(*, cart_pk: int) -> dict[int, StoredLine]:
    """Return a cart's lines as written through to the database; an idle cart has none."""
    return _cart_from_database(cart_pk=cart_pk)[0]


def load_into_redis(*, cart_pk: int) -> dict[int, StoredLine]:
    """Load a cart from the database into Redis and return its lines.

    It expires there when it goes idle in the database, not a whole lifetime from now, so
    Redis never shows lines the database already counts as gone.
    """
    lines, seconds_left = _cart_from_database(cart_pk=cart_pk)
    store.fill(cart_pk=cart_pk, lines=lines, ttl=seconds_left)
    return lines


def stored_lines(*, cart_pk: int) -> dict[int, StoredLine]:
    """Return a cart's lines from Redis, loading them from the database on a miss.

    Redis unreachable: from the database, with no error for the shopper.
    """
    if store.configured():
        try:
            lines = store.read(cart_pk)
            return load_into_redis(cart_pk=cart_pk) if lines is None else lines
        except RedisError as error:
            log.warning("cart %s read from the database: Redis unavailable (%s)", cart_pk, error)
    return lines_from_database(cart_pk=cart_pk)


def count_items(*, customer: Customer) -> int:
    """Return how many units the customer's cart holds (the header's count)."""
    cart_pk = get_cart_pk(customer=customer)
    if cart_pk is None:
        return 0
    lines = stored_lines(cart_pk=cart_pk)
    return sum(line.quantity for line in lines.values())


def get_cart(*, customer: Customer) -> CartView:
    """Return the customer's cart priced now, each line flagged if its price or stock changed."""
    cart_pk = get_cart_pk(customer=customer)
    lines = stored_lines(cart_pk=cart_pk) if cart_pk else {}
    offers = get_product_offers(pks=lines.keys()) if lines else {}
    items = sorted(
        (
            CartLineView.of(product_pk=pk, line=line, offer=offers.get(pk))
            for pk, line in lines.items()
        ),
        key=attrgetter("title", "product_pk"),
    )
    return CartView(
        items=tuple(items),
        currency=settings.SHOP_CURRENCY,
        line_max=settings.CART_LINE_MAX_QUANTITY,
    )
