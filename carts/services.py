"""Cart writes: one path for each of the shopper's actions (add units, set a line's units, remove
a line), plus the guest-cart merge at sign-in and the sweep of idle carts.

Each path changes the Redis copy first, atomically (carts/store.py), then writes the same change
through to the SQL mirror (carts/mirror.py) in the same request, at most two statements, so a
lost Redis node loses no cart. With Redis away the path runs on the mirror alone, in a
transaction that locks the cart and the line instead of the atomic script.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from redis import RedisError

from carts import mirror, store
from carts.exceptions import (
    CartFull,
    LineLimitReached,
    LineNotFound,
    NotEnoughStock,
    ProductUnavailable,
)
from carts.models import Cart, CartLine
from carts.selectors import (
    SESSION_KEY,
    get_cart_pk,
    idle_cutoff,
    idle_lifetime,
    lines_from_database,
    load_into_redis,
    owner_key,
    remember_cart_pk,
)
from carts.store import Change, Refusal
from catalog.read_models import Offer
from catalog.selectors import get_product_offers
from shop.customers import Customer

if TYPE_CHECKING:
    from django.http import HttpRequest

    from shop.accounts.models import User

log = logging.getLogger(__name__)

# The cart's caps: CART_MAX_LINES lines per cart, CART_LINE_MAX_QUANTITY units per line, and no
# more units than in stock. Three places enforce them, tested together in
# carts/tests/test_cart_caps.py (test_each_cap_refuses_a_change_on_both_stores and
# test_each_cap_holds_in_the_guest_cart_merge):
#   1. Redis's Lua scripts (carts/store.py: _ADD, _SET), given `_line_cap` and CART_MAX_LINES;
#   2. the database path with Redis away (`_add_units_in_database`, `_set_units_in_database`);
#   3. the guest-cart merge at sign-in (`merge_guest_cart`), which caps rather than refuses.


# --- Which cart -----------------------------------------------------------------------------


def _lifetime_seconds(*, guest: bool) -> int:
    return int(idle_lifetime(guest=guest).total_seconds())


def _cart_for_writing(*, customer: Customer) -> int:
    """Return the customer's cart pk, creating the cart (and a guest's session entry) if needed."""
    cart_pk = get_cart_pk(customer=customer)
    if cart_pk is not None:
        return cart_pk
    if customer.user_pk is not None:
        cart, _ = Cart.objects.get_or_create(owner_id=customer.user_pk)
        remember_cart_pk(user_pk=customer.user_pk, cart_pk=cart.pk)
        return cart.pk
    if customer.session is None:
        raise ValueError("A guest's cart lives in its session, and this guest has none.")
    cart = Cart.objects.create()
    customer.session[SESSION_KEY] = cart.pk
    customer.session.set_expiry(
        _lifetime_seconds(guest=True)
    )  # a guest's session lives as long as its cart
    return cart.pk


def _forget_cart(*, customer: Customer) -> None:
    """Forget which cart the customer has, so that the next write starts a new one."""
    if customer.user_pk is not None:
        cache.delete(owner_key(customer.user_pk))
    elif customer.session is not None:
        customer.session.pop(SESSION_KEY, None)


# --- Rules ----------------------------------------------------------------------------------


def _offer_for_sale(*, product_pk: int) -> Offer:
    offer = get_product_offers(pks=[product_pk]).get(product_pk)
    if offer is None:
        raise ProductUnavailable(f"Product {product_pk} does not exist or is not for sale.")
    return offer


def _line_cap(*, offer: Offer) -> int:
    """Return the most units of `offer` a line may hold: the line maximum, or the stock."""
    line_max: int = settings.CART_LINE_MAX_QUANTITY
    return min(line_max, offer.stock)


def _refuse(*, reason: Refusal, offer: Offer, held: int, wanted: int) -> NoReturn:
    """Raise the error that explains why `wanted` units of `offer` cannot be in the cart."""
    title, line_max = offer.title, settings.CART_LINE_MAX_QUANTITY
    match reason:
        case Refusal.NOT_IN_CART:
            raise LineNotFound()
        case Refusal.TOO_MANY_LINES:
            raise CartFull(f"Your cart already holds {settings.CART_MAX_LINES} different products.")
        case Refusal.OVER_CAP if wanted > line_max:
            raise LineLimitReached(
                f"At most {line_max} of '{title}' per cart; your cart holds {held}."
            )
        case Refusal.OVER_CAP if not offer.in_stock:
            raise NotEnoughStock(f"'{title}' is out of stock.")
        case Refusal.OVER_CAP:
            raise NotEnoughStock(f"Only {offer.stock} of '{title}' left; your cart holds {held}.")


# --- Redis first, then the mirror -----------------------------------------------------------


def _change_in_redis(
    change: Callable[..., Change], *, cart_pk: int, guest: bool, **line: Any
) -> Change | None:
    """Run an atomic change on the Redis copy, loading the cart from the database first if Redis
    does not hold it; return None when Redis is away, for the database path to run instead."""
    if not store.configured():
        return None
    ttl = _lifetime_seconds(guest=guest)
    try:
        try:
            return change(cart_pk=cart_pk, ttl=ttl, **line)
        except store.NotLoaded:
            load_into_redis(cart_pk=cart_pk)
            return change(cart_pk=cart_pk, ttl=ttl, **line)
    except RedisError as error:
        log.warning("cart %s changed in the database: Redis unavailable (%s)", cart_pk, error)
        return None


@contextmanager
def _writing_through(*, cart_pk: int, guest: bool) -> Iterator[None]:
    """Touch the cart in the mirror for the block to write Redis's change there; if either
    fails, drop the Redis copy: the database is the truth, and the cart reloads from it."""
    try:
        mirror.touch_or_start_afresh(cart_pk=cart_pk, guest=guest)
        yield
    except Exception:
        store.drop(cart_pk)
        raise


# --- Adding units ---------------------------------------------------------------------------


def add_to_cart(*, customer: Customer, product_pk: int, quantity: int) -> None:
    """Add units of a product, refusing past the line maximum, the stock or the line count."""
    try:
        _add_units(customer=customer, product_pk=product_pk, quantity=quantity)
    except IntegrityError:
        # The cart was swept as idle between lookup and write: start a new one.
        _forget_cart(customer=customer)
        _add_units(customer=customer, product_pk=product_pk, quantity=quantity)


def _add_units(*, customer: Customer, product_pk: int, quantity: int) -> None:
    offer = _offer_for_sale(product_pk=product_pk)
    cart_pk = _cart_for_writing(customer=customer)
    guest = customer.is_guest
    change = _change_in_redis(
        store.add,
        cart_pk=cart_pk,
        guest=guest,
        product_pk=product_pk,
        quantity=quantity,
        cap=_line_cap(offer=offer),
        price=offer.price,
    )
    if change is None:
        _add_units_in_database(cart_pk=cart_pk, guest=guest, offer=offer, quantity=quantity)
        return
    if change.refused:
        held = change.quantity
        _refuse(reason=change.refused, offer=offer, held=held, wanted=held + quantity)
    with _writing_through(cart_pk=cart_pk, guest=guest):
        mirror.add_units(
            cart_pk=cart_pk, product_pk=product_pk, quantity=quantity, price=offer.price
        )


@transaction.atomic(durable=True)
def _add_units_in_database(*, cart_pk: int, guest: bool, offer: Offer, quantity: int) -> None:
    """Add units with Redis away: touching locks the cart, so its lines are counted safely."""
    mirror.touch_or_start_afresh(cart_pk=cart_pk, guest=guest)
    held = mirror.held_units(cart_pk=cart_pk, product_pk=offer.pk)
    wanted = held + quantity
    if wanted > _line_cap(offer=offer):
        _refuse(reason=Refusal.OVER_CAP, offer=offer, held=held, wanted=wanted)
    if not held and mirror.count_lines(cart_pk=cart_pk) >= settings.CART_MAX_LINES:
        _refuse(reason=Refusal.TOO_MANY_LINES, offer=offer, held=held, wanted=wanted)
    mirror.add_units(cart_pk=cart_pk, product_pk=offer.pk, quantity=quantity, price=offer.price)


# --- Setting a line's units -----------------------------------------------------------------


def set_line_quantity(*, customer: Customer, product_pk: int, quantity: int) -> None:
    """Set a line's units (0 removes it); the line must be in the cart."""
    if quantity == 0:
        remove_line(customer=customer, product_pk=product_pk)
        return
    offer = _offer_for_sale(product_pk=product_pk)
    cart_pk = _cart_for_writing(customer=customer)
    guest = customer.is_guest
    change = _change_in_redis(
        store.set_quantity,
        cart_pk=cart_pk,
        guest=guest,
        product_pk=product_pk,
        quantity=quantity,
        cap=_line_cap(offer=offer),
    )
    if change is None:
        _set_units_in_database(cart_pk=cart_pk, guest=guest, offer=offer, quantity=quantity)
        return
    if change.refused:
        _refuse(reason=change.refused, offer=offer, held=change.quantity, wanted=quantity)
    with _writing_through(cart_pk=cart_pk, guest=guest):
        mirror.set_units(
            cart_pk=cart_pk, product_pk=product_pk, quantity=quantity, price=offer.price
        )


@transaction.atomic(durable=True)
def _set_units_in_database(*, cart_pk: int, guest: bool, offer: Offer, quantity: int) -> None:
    """Set a line's units with Redis away, its row locked."""
    mirror.touch_or_start_afresh(cart_pk=cart_pk, guest=guest)
    held = mirror.held_units(cart_pk=cart_pk, product_pk=offer.pk)
    if not held:
        _refuse(reason=Refusal.NOT_IN_CART, offer=offer, held=held, wanted=quantity)
    if quantity > _line_cap(offer=offer):
        _refuse(reason=Refusal.OVER_CAP, offer=offer, held=held, wanted=quantity)
    mirror.set_units(cart_pk=cart_pk, product_pk=offer.pk, quantity=quantity, price=offer.price)


# --- Removing a line ------------------------------------------------------------------------


def remove_line(*, customer: Customer, product_pk: int) -> None:
    """Remove a product's line from the cart; the line must be in the cart.

    It needs nothing of the product, which may not even be for sale any more.
    """
    cart_pk = _cart_for_writing(customer=customer)
    guest = customer.is_guest
    change = _change_in_redis(store.remove, cart_pk=cart_pk, guest=guest, product_pk=product_pk)
    if change is None:
        _remove_line_in_database(cart_pk=cart_pk, guest=guest, product_pk=product_pk)
        return
    if change.refused:  # Refusal.NOT_IN_CART, a removal's only one
        raise LineNotFound()
    with _writing_through(cart_pk=cart_pk, guest=guest):
        mirror.delete_line(cart_pk=cart_pk, product_pk=product_pk)


@transaction.atomic(durable=True)
def _remove_line_in_database(*, cart_pk: int, guest: bool, product_pk: int) -> None:
    """Remove a line with Redis away, its row locked."""
    mirror.touch_or_start_afresh(cart_pk=cart_pk, guest=guest)
    if not mirror.held_units(cart_pk=cart_pk, product_pk=product_pk):
        raise LineNotFound()
    mirror.delete_line(cart_pk=cart_pk, product_pk=product_pk)


# --- Checkout -------------------------------------------------------------------------------


def remove_ordered_lines(*, cart_pk: int, product_pks: Iterable[int]) -> None:
    """Remove the ordered products' lines from the cart, inside the order's transaction; the
    cart keeps any other line."""
    mirror.delete_lines(cart_pk=cart_pk, product_pks=list(product_pks))
    transaction.on_commit(partial(_drop_from_redis, cart_pk))


# --- Sign-in and housekeeping ---------------------------------------------------------------


def merge_guest_cart_on_sign_in(*, request: HttpRequest, user: User) -> None:
    """Move the session's guest cart into the account's cart (a settings.SIGN_IN_HOOKS entry)."""
    guest_pk = request.session.pop(SESSION_KEY, None)
    if guest_pk is not None:
        merge_guest_cart(guest_cart_pk=guest_pk, user=user)


# Durable: sign_in runs its hooks outside any transaction, and the merge is one on its own.
@transaction.atomic(durable=True)
def merge_guest_cart(*, guest_cart_pk: int, user: User) -> Cart:
    """Sum the guest cart's lines into the account's cart, capped by stock, the line maximum and
    the line count."""
    target, _ = Cart.objects.get_or_create(owner_id=user.pk)
    mirror.touch_or_start_afresh(
        cart_pk=target.pk, guest=False
    )  # an idle account cart starts afresh
    guest = lines_from_database(cart_pk=guest_cart_pk)  # an idle guest cart brings nothing
    held = {
        line.product_id: line
        for line in CartLine.objects.select_for_update().filter(cart=target).order_by("pk")
    }
    offers = get_product_offers(pks=guest.keys())
    for product_pk, line in sorted(guest.items()):
        offer = offers.get(product_pk)
        if offer is None:
            continue
        mine = held.get(product_pk)
        quantity = min(_line_cap(offer=offer), line.quantity + (mine.quantity if mine else 0))
        if mine is not None:
            if quantity > mine.quantity:
                mine.quantity = quantity
                mine.save(update_fields=["quantity"])
        elif quantity > 0 and len(held) < settings.CART_MAX_LINES:
            held[product_pk] = CartLine.objects.create(
                cart=target,
                product_id=product_pk,
                quantity=quantity,
                price_when_added=line.price_when_added,
            )
    Cart.objects.filter(pk=guest_cart_pk, owner=None).delete()
    transaction.on_commit(partial(remember_cart_pk, user_pk=user.pk, cart_pk=target.pk))
    transaction.on_commit(partial(_drop_from_redis, guest_cart_pk, target.pk))
    return target


def delete_idle_carts() -> int:
    """Delete guest carts idle past 24 h and account carts idle past 30 days; return how many."""
    return _delete_idle_carts(guest=True) + _delete_idle_carts(guest=False)


@transaction.atomic(durable=True)
def _delete_idle_carts(*, guest: bool, limit: int = 10_000) -> int:
    # Only what is still idle as it goes: the carts are locked as they are chosen, a cart a
    # shopper is changing right now is skipped, and one touched before the lock no longer
    # matches (PostgreSQL checks the condition again on the row it locks).
    rows = list(
        Cart.objects.select_for_update(skip_locked=True)
        .filter(owner__isnull=guest, updated_at__lt=idle_cutoff(guest=guest))
        .order_by("pk")
        .values_list("pk", "owner_id")[:limit]
    )
    if not rows:
        return 0
    pks = [pk for pk, _ in rows]
    deleted = Cart.objects.filter(pk__in=pks).delete()[1].get("carts.Cart", 0)
    owner_keys = [owner_key(owner) for _, owner in rows if owner]
    transaction.on_commit(partial(_forget_swept_carts, cart_pks=pks, owner_keys=owner_keys))
    return deleted


def _forget_swept_carts(*, cart_pks: list[int], owner_keys: list[str]) -> None:
    """Forget deleted carts in Redis: their copies, and which cart their owners had."""
    cache.delete_many(owner_keys)
    _drop_from_redis(*cart_pks)


def _drop_from_redis(*cart_pks: int) -> None:
    """Forget carts in Redis if it is there; the database is their truth either way."""
    if store.configured():
        try:
            store.drop(*cart_pks)
        except RedisError as error:
            log.warning("carts %s not dropped from Redis (%s)", cart_pks, error)
