"""The live copy of every cart: one Redis hash per cart, changed only by atomic scripts.

Layout of `<prefix>:cart:<pk>`: `q:<product pk>` → quantity, `p:<product pk>` → the unit price
when the line was added, and `_` → "1", present even in an empty cart, so that a missing key
always means "not loaded" (rebuild it from the database), never "empty".

Every function raises redis.RedisError when Redis is unreachable; carts.services then works on
the database alone. With no Redis configured (make run), `configured()` is False.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast

from django.conf import settings
from django_redis import get_redis_connection
from redis import Redis
from redis.client import Pipeline

log = logging.getLogger(__name__)

SENTINEL = "_"


class Refusal(StrEnum):
    """Why a change to a line was refused: what the Lua scripts answer, and the database path."""

    OVER_CAP = "over_cap"  # past the line maximum or the units in stock
    TOO_MANY_LINES = "too_many_lines"  # a new line in a cart with CART_MAX_LINES lines
    NOT_IN_CART = "not_in_cart"  # setting or removing a line the cart does not hold


class NotLoaded(Exception):
    """Redis does not hold the cart: load it from the database, then change it."""


@dataclass(frozen=True)
class StoredLine:
    quantity: int
    price_when_added: Decimal


@dataclass(frozen=True)
class Change:
    """What an atomic change did: `quantity` now, or why it was refused (then `quantity` held)."""

    quantity: int
    refused: Refusal | None = None


# Each script answers {quantity, reason}: the reason is '' when the change was made, one of
# Refusal's values, or 'not_loaded' when the cart is not in Redis.

# KEYS[1]: the cart. ARGV: product pk, units to add, cap, unit price, TTL, max lines.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 'not_loaded'} end
local held = tonumber(redis.call('HGET', KEYS[1], 'q:' .. ARGV[1]) or '0')
local wanted = held + tonumber(ARGV[2])
if wanted > tonumber(ARGV[3]) then return {held, 'over_cap'} end
if held == 0 then
    if (redis.call('HLEN', KEYS[1]) - 1) / 2 >= tonumber(ARGV[6]) then
        return {held, 'too_many_lines'}
    end
    redis.call('HSET', KEYS[1], 'p:' .. ARGV[1], ARGV[4])
end
redis.call('HSET', KEYS[1], 'q:' .. ARGV[1], wanted)
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {wanted, ''}
"""

# KEYS[1]: the cart. ARGV: product pk, quantity (at least 1), cap, TTL. The line must be there.
_SET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 'not_loaded'} end
local held = tonumber(redis.call('HGET', KEYS[1], 'q:' .. ARGV[1]) or '0')
if held == 0 then return {0, 'not_in_cart'} end
local wanted = tonumber(ARGV[2])
if wanted > tonumber(ARGV[3]) then return {held, 'over_cap'} end
redis.call('HSET', KEYS[1], 'q:' .. ARGV[1], wanted)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {wanted, ''}
"""

# KEYS[1]: the cart. ARGV: product pk, TTL. The line must be there.
_REMOVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 'not_loaded'} end
if redis.call('HEXISTS', KEYS[1], 'q:' .. ARGV[1]) == 0 then return {0, 'not_in_cart'} end
redis.call('HDEL', KEYS[1], 'q:' .. ARGV[1], 'p:' .. ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {0, ''}
"""

# KEYS[1]: the cart. ARGV: TTL, then field, value pairs. Only fills a cart not loaded yet, so a
# slow rebuild never overwrites changes made since by another replica.
_FILL = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


def configured() -> bool:
    """Return whether the shop runs with Redis (not whether Redis answers right now)."""
    return settings.REDIS_ENABLED


def _client() -> Redis:
    client: Redis = get_redis_connection("default")
    return client


def _run(script: str, key: str, args: list[Any], *, replicate: bool = True) -> Any:
    client = _client()
    if not (replicate and settings.REDIS_WAIT_REPLICAS):
        # register_script only hashes the source; the script is sent once, then called by its SHA.
        return client.register_script(script)(keys=[key], args=args)
    with client.pipeline(transaction=False) as pipeline:
        pipeline.eval(script, 1, key, *args)
        return _replicated(pipeline)


def _replicated(pipeline: Pipeline) -> Any:
    """Run `pipeline`, then wait until REDIS_WAIT_REPLICAS replicas hold its writes, so that a
    failover promotes none without them (issue 13); return the first command's result.

    One pipeline, so one connection: WAIT counts the replicas that have this connection's
    writes. Too few within REDIS_WAIT_TIMEOUT_MS is logged; the change stands on the master.
    """
    wanted, timeout = settings.REDIS_WAIT_REPLICAS, settings.REDIS_WAIT_TIMEOUT_MS
    pipeline.wait(wanted, timeout)
    result, *_, acknowledged = pipeline.execute()
    if acknowledged < wanted:
        log.warning(
            "cart change on %s of %s Redis replicas in %s ms", acknowledged, wanted, timeout
        )
    return result


def _key(cart_pk: int) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:cart:{cart_pk}"


def read(cart_pk: int) -> dict[int, StoredLine] | None:
    """Return the cart's lines by product pk, or None when Redis does not hold the cart."""
    raw = cast(dict[bytes, bytes], _client().hgetall(_key(cart_pk)))  # the client decodes nothing
    if not raw:
        return None
    lines: dict[int, StoredLine] = {}
    for field, value in raw.items():
        if field.startswith(b"q:"):
            product_pk = field[2:]
            price = raw.get(b"p:" + product_pk, b"0").decode()
            lines[int(product_pk)] = StoredLine(int(value), Decimal(price))
    return lines


def fill(*, cart_pk: int, lines: dict[int, StoredLine], ttl: int) -> None:
    """Load a cart rebuilt from the database, unless another replica loaded it first."""
    pairs: list[str] = [SENTINEL, "1"]
    for product_pk, line in lines.items():
        pairs += [
            f"q:{product_pk}",
            str(line.quantity),
            f"p:{product_pk}",
            str(line.price_when_added),
        ]
    # Not worth a wait for replicas: a copy lost in a failover is loaded again.
    _run(_FILL, _key(cart_pk), [ttl, *pairs], replicate=False)


def _change(script: str, *, cart_pk: int, args: list[Any]) -> Change:
    quantity, reason = _run(script, _key(cart_pk), args)
    if reason == b"not_loaded":
        raise NotLoaded(cart_pk)
    return Change(quantity=int(quantity), refused=Refusal(reason.decode()) if reason else None)


def add(
    *, cart_pk: int, product_pk: int, quantity: int, cap: int, price: Decimal, ttl: int
) -> Change:
    """Add units to a line atomically (a new line at `price`), refusing to pass `cap` units or
    CART_MAX_LINES lines."""
    args = [product_pk, quantity, cap, str(price), ttl, settings.CART_MAX_LINES]
    return _change(_ADD, cart_pk=cart_pk, args=args)


def set_quantity(*, cart_pk: int, product_pk: int, quantity: int, cap: int, ttl: int) -> Change:
    """Set the units of a line the cart holds atomically, refusing to pass `cap` units."""
    return _change(_SET, cart_pk=cart_pk, args=[product_pk, quantity, cap, ttl])


def remove(*, cart_pk: int, product_pk: int, ttl: int) -> Change:
    """Remove a line the cart holds atomically."""
    return _change(_REMOVE, cart_pk=cart_pk, args=[product_pk, ttl])


def drop(*cart_pks: int) -> None:
    """Forget carts in Redis; the next read rebuilds them from the database."""
    if not cart_pks:
        return
    keys = [_key(pk) for pk in cart_pks]
    if not settings.REDIS_WAIT_REPLICAS:
        _client().delete(*keys)
        return
    with _client().pipeline(transaction=False) as pipeline:
        pipeline.delete(*keys)
        _replicated(pipeline)
