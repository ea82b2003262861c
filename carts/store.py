"""The live copy of every cart: one Redis hash per cart, changed only by atomic scripts.

Layout of `<prefix>:cart:<pk>`: `q:<product pk>` → quantity, `p:<product pk>` → the unit price
when the line was added, and `_` → "1", present even in an empty cart, so that a missing key
always means "not loaded" (rebuild it from the database), never "empty".

Every function raises redis.RedisError when Redis is unreachable; carts.services then works on
the database alone. With no Redis configured (make run), `available()` is False.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django_redis import get_redis_connection

log = logging.getLogger(__name__)

SENTINEL = "_"


@dataclass(frozen=True)
class StoredLine:
    quantity: int
    price_when_added: Decimal


@dataclass(frozen=True)
class Change:
    """What an atomic change did: `quantity` now, or why it was refused (then `quantity` held)."""

    quantity: int
    # "missing" (load the cart first), "over_cap", "too_many_lines" or "not_in_cart"
    refused: str | None = None


# KEYS[1]: the cart. ARGV: product pk, units to add, cap, unit price, TTL, max lines.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 'missing'} end
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

# KEYS[1]: the cart. ARGV: product pk, quantity (0 removes), cap, unit price, TTL, max lines,
# and "1" when the line must already be in the cart.
_SET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 'missing'} end
local held = tonumber(redis.call('HGET', KEYS[1], 'q:' .. ARGV[1]) or '0')
local wanted = tonumber(ARGV[2])
if held == 0 and ARGV[7] == '1' then return {0, 'not_in_cart'} end
if wanted == 0 then
    redis.call('HDEL', KEYS[1], 'q:' .. ARGV[1], 'p:' .. ARGV[1])
elseif wanted > tonumber(ARGV[3]) then
    return {held, 'over_cap'}
else
    if held == 0 then
        if (redis.call('HLEN', KEYS[1]) - 1) / 2 >= tonumber(ARGV[6]) then
            return {held, 'too_many_lines'}
        end
        redis.call('HSET', KEYS[1], 'p:' .. ARGV[1], ARGV[4])
    end
    redis.call('HSET', KEYS[1], 'q:' .. ARGV[1], wanted)
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {wanted, ''}
"""

# KEYS[1]: the cart. ARGV: TTL, then field, value pairs. Only fills a cart not loaded yet, so a
# slow rebuild never overwrites changes made since by another replica.
_FILL = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


def available() -> bool:
    return settings.REDIS_ENABLED


def _client():
    return get_redis_connection("default")


def _run(script: str, key: str, args: list, *, replicate: bool = True) -> list:
    client = _client()
    if not (replicate and settings.REDIS_WAIT_REPLICAS):
        # register_script only hashes the source; the script is sent once, then called by its SHA.
        return client.register_script(script)(keys=[key], args=args)
    with client.pipeline(transaction=False) as pipeline:
        pipeline.eval(script, 1, key, *args)
        return _replicated(pipeline)


def _replicated(pipeline) -> Any:
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
    raw = _client().hgetall(_key(cart_pk))
    if not raw:
        return None
    lines = {}
    for field, value in raw.items():
        if field.startswith(b"q:"):
            product_pk = field[2:]
            price = raw.get(b"p:" + product_pk, b"0").decode()
            lines[int(product_pk)] = StoredLine(int(value), Decimal(price))
    return lines


def fill(cart_pk: int, lines: dict[int, StoredLine], ttl: int) -> None:
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


def _change(script: str, cart_pk: int, args: list, ttl: int) -> Change:
    quantity, refused = _run(
        script, _key(cart_pk), [*args[:4], ttl, settings.CART_MAX_LINES, *args[4:]]
    )
    return Change(int(quantity), refused.decode() or None)


def add(
    *, cart_pk: int, product_pk: int, quantity: int, cap: int, price: Decimal, ttl: int
) -> Change:
    """Add units to a line atomically, refusing to pass `cap` units."""
    return _change(_ADD, cart_pk, [product_pk, quantity, cap, str(price)], ttl)


def set_quantity(
    *,
    cart_pk: int,
    product_pk: int,
    quantity: int,
    cap: int,
    price: Decimal,
    ttl: int,
    must_exist: bool,
) -> Change:
    """Set a line's units atomically (0 removes it), refusing to pass `cap` units."""
    args = [product_pk, quantity, cap, str(price), "1" if must_exist else "0"]
    return _change(_SET, cart_pk, args, ttl)


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
