"""Cart writes. Redis changes first, atomically; the same change is then written through to the
database in the same request (at most two statements), so a lost Redis node loses no cart.
"""

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from redis import RedisError

from carts import store
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
    is_idle,
    lines_from_database,
    load_into_redis,
    owner_key,
)
from carts.store import Change
from catalog.selectors import get_product_offers

log = logging.getLogger(__name__)


# --- Which cart -----------------------------------------------------------------------------


def _ttl(*, guest: bool) -> int:
    return int(idle_lifetime(guest=guest).total_seconds())


def _cart_for_writing(*, user, session: SessionBase) -> int:
    """Return the caller's cart pk, creating the cart (and a guest's session entry) if needed."""
    cart_pk = get_cart_pk(user=user, session=session)
    if cart_pk is not None:
        return cart_pk
    if user.is_authenticated:
        cart, _ = Cart.objects.get_or_create(owner_id=user.pk)
        cache.set(owner_key(user.pk), cart.pk, timeout=_ttl(guest=False))
        return cart.pk
    cart = Cart.objects.create()
    session[SESSION_KEY] = cart.pk
    session.set_expiry(_ttl(guest=True))  # a guest's session lives as long as its cart
    return cart.pk


def _forget_cart(*, user, session: SessionBase) -> None:
    if user.is_authenticated:
        cache.delete(owner_key(user.pk))
    else:
        session.pop(SESSION_KEY, None)


# --- Rules ----------------------------------------------------------------------------------


def _offer(product_pk: int) -> dict[str, Any]:
    offer = get_product_offers(pks=[product_pk]).get(product_pk)
    if offer is None:
        raise ProductUnavailable(f"Product {product_pk} does not exist or is not for sale.")
    return offer


def _cap(offer: dict[str, Any]) -> int:
    return min(settings.CART_LINE_MAX_QUANTITY, offer["stock"])


def _refuse(*, offer: dict[str, Any], held: int, wanted: int, reason: str) -> None:
    """Raise the error that explains why `wanted` units of `offer` cannot be in the cart."""
    if reason == "not_in_cart":
        raise LineNotFound()
    if reason == "too_many_lines":
        raise CartFull(f"Your cart already holds {settings.CART_MAX_LINES} different products.")
    title, line_max = offer["title"], settings.CART_LINE_MAX_QUANTITY
    if wanted > line_max:
        raise LineLimitReached(f"At most {line_max} of '{title}' per cart; your cart holds {held}.")
    if offer["stock"] == 0:
        raise NotEnoughStock(f"'{title}' is out of stock.")
    raise NotEnoughStock(f"Only {offer['stock']} of '{title}' left; your cart holds {held}.")


# --- Write-through --------------------------------------------------------------------------


def _touch(*, cart_pk: int, guest: bool) -> None:
    """Mark the cart changed now; an idle cart first loses its old lines: it starts afresh.

    One statement while the cart is in use; the rare idle cart takes a short locked transaction.
    """
    in_use = Cart.objects.filter(pk=cart_pk, updated_at__gte=idle_cutoff(guest=guest)).update(
        updated_at=timezone.now()
    )
    if not in_use:
        _start_afresh(cart_pk=cart_pk, guest=guest)


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


def _write_line(*, cart_pk: int, product_pk: int, quantity: int, price: Decimal, add: bool):
    """Write one line in the database: add `quantity` units (an upsert), set it, or delete it."""
    if not add and quantity == 0:
        CartLine.objects.filter(cart_id=cart_pk, product_id=product_pk).delete()
        return
    table = CartLine._meta.db_table
    merge = f"{table}.quantity + EXCLUDED.quantity" if add else "EXCLUDED.quantity"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (cart_id, product_id, quantity, price_when_added, added_at) "
            "VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = {merge}",
            [cart_pk, product_pk, quantity, price, timezone.now()],
        )


def _change_in_redis(*, script, cart_pk: int, guest: bool, **change) -> Change:
    """Run an atomic change on the Redis copy, loading the cart from the database if needed."""
    ttl = _ttl(guest=guest)
    result = script(cart_pk=cart_pk, ttl=ttl, **change)
    if result.refused == "missing":
        load_into_redis(cart_pk)
        result = script(cart_pk=cart_pk, ttl=ttl, **change)
    return result


def _held_in_database(cart_pk: int, product_pk: int) -> tuple[int, int]:
    """Lock the line (if any) and return (units held, lines in the cart)."""
    line = (
        CartLine.objects.select_for_update()
        .filter(cart_id=cart_pk, product_id=product_pk)
        .values_list("quantity", flat=True)
        .first()
    )
    return line or 0, CartLine.objects.filter(cart_id=cart_pk).count()


def _change_line(
    *, user, session: SessionBase, product_pk: int, quantity: int, add: bool, must_exist: bool
) -> None:
    # Removing a line needs nothing of the product: it may not even be for sale any more.
    offer: dict[str, Any] = (
        _offer(product_pk) if quantity else {"title": "", "price": Decimal(0), "stock": 0}
    )
    cart_pk = _cart_for_writing(user=user, session=session)
    guest = not user.is_authenticated
    cap = _cap(offer) if quantity else 0
    if store.available():
        try:
            result = _change_in_redis(
                script=store.add if add else store.set_quantity,
                cart_pk=cart_pk,
                guest=guest,
                product_pk=product_pk,
                quantity=quantity,
                cap=cap,
                price=offer["price"],
                **({} if add else {"must_exist": must_exist}),
            )
        except RedisError as error:
            log.warning("cart %s changed in the database: Redis unavailable (%s)", cart_pk, error)
        else:
            if result.refused:
                _refuse(
                    offer=offer,
                    held=result.quantity,
                    wanted=result.quantity + quantity if add else quantity,
                    reason=result.refused,
                )
            try:
                _touch(cart_pk=cart_pk, guest=guest)
                _write_line(
                    cart_pk=cart_pk,
                    product_pk=product_pk,
                    quantity=quantity,
                    price=offer["price"],
                    add=add,
                )
            except Exception:
                store.drop(cart_pk)  # the database is the truth: reload from it next time
                raise
            return
    _change_in_database(
        cart_pk=cart_pk,
        guest=guest,
        product_pk=product_pk,
        quantity=quantity,
        offer=offer,
        cap=cap,
        add=add,
        must_exist=must_exist,
    )


@transaction.atomic
def _change_in_database(
    *,
    cart_pk: int,
    guest: bool,
    product_pk: int,
    quantity: int,
    offer: dict,
    cap: int,
    add: bool,
    must_exist: bool,
) -> None:
    """The same change with Redis away: row locks instead of the atomic script."""
    _touch(cart_pk=cart_pk, guest=guest)
    held, lines = _held_in_database(cart_pk, product_pk)
    wanted = held + quantity if add else quantity
    reason = None
    if must_exist and not held:
        reason = "not_in_cart"
    elif wanted > cap:
        reason = "over_cap"
    elif not held and wanted and lines >= settings.CART_MAX_LINES:
        reason = "too_many_lines"
    if reason:
        _refuse(offer=offer, held=held, wanted=wanted, reason=reason)
    _write_line(
        cart_pk=cart_pk, product_pk=product_pk, quantity=quantity, price=offer["price"], add=add
    )


# --- The shopper's actions ------------------------------------------------------------------


def add_to_cart(*, user, session: SessionBase, product_pk: int, quantity: int) -> None:
    """Add units of a product, refusing past the line maximum or the units in stock."""
    change: dict[str, Any] = {
        "product_pk": product_pk,
        "quantity": quantity,
        "add": True,
        "must_exist": False,
    }
    try:
        _change_line(user=user, session=session, **change)
    except IntegrityError:
        # The cart was swept as idle between lookup and write: start a new one.
        _forget_cart(user=user, session=session)
        _change_line(user=user, session=session, **change)


def set_line_quantity(*, user, session: SessionBase, product_pk: int, quantity: int) -> None:
    """Set a line's units (0 removes it); the line must be in the cart."""
    _change_line(
        user=user,
        session=session,
        product_pk=product_pk,
        quantity=quantity,
        add=False,
        must_exist=True,
    )


def remove_line(*, user, session: SessionBase, product_pk: int) -> None:
    """Remove a product's line from the cart."""
    set_line_quantity(user=user, session=session, product_pk=product_pk, quantity=0)


# --- Sign-in and housekeeping ---------------------------------------------------------------


def merge_guest_cart_on_sign_in(*, request, user) -> None:
    """Move the session's guest cart into the account's cart (a settings.SIGN_IN_HOOKS entry)."""
    guest_pk = request.session.pop(SESSION_KEY, None)
    if guest_pk is not None:
        merge_guest_cart(guest_cart_pk=guest_pk, user=user)


@transaction.atomic
def merge_guest_cart(*, guest_cart_pk: int, user) -> Cart:
    """Sum the guest cart's lines into the account's cart, capped by stock and the line maximum."""
    target, _ = Cart.objects.get_or_create(owner_id=user.pk)
    _touch(cart_pk=target.pk, guest=False)  # an idle account cart starts afresh
    guest = lines_from_database(guest_cart_pk)  # an idle guest cart brings nothing
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
        quantity = min(_cap(offer), line.quantity + (mine.quantity if mine else 0))
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
    transaction.on_commit(lambda: _forget_in_redis(guest_cart_pk, target.pk, owner=user.pk))
    return target


def _forget_in_redis(*cart_pks: int, owner: int) -> None:
    cache.set(owner_key(owner), cart_pks[-1], timeout=_ttl(guest=False))
    _drop_from_redis(*cart_pks)


def delete_idle_carts() -> int:
    """Delete guest carts idle past 24 h and account carts idle past 30 days; return how many."""
    return _delete_idle_carts(guest=True) + _delete_idle_carts(guest=False)


@transaction.atomic
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
    owners = [owner_key(owner) for _, owner in rows if owner]
    transaction.on_commit(lambda: _forget_swept(pks, owners))
    return deleted


def _forget_swept(cart_pks: list[int], owner_keys: list[str]) -> None:
    cache.delete_many(owner_keys)
    _drop_from_redis(*cart_pks)


def empty_cart(*, cart_pk: int, product_pks) -> None:
    """Remove ordered products from a cart (inside the order's transaction)."""
    CartLine.objects.filter(cart_id=cart_pk, product_id__in=list(product_pks)).delete()
    transaction.on_commit(lambda: _drop_from_redis(cart_pk))


def _drop_from_redis(*cart_pks: int) -> None:
    """Forget carts in Redis if it is there; the database is their truth either way."""
    if store.available():
        try:
            store.drop(*cart_pks)
        except RedisError as error:
            log.warning("carts %s not dropped from Redis (%s)", cart_pks, error)
