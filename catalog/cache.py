"""The catalog cache: one key function per kind of data, jittered TTLs, one version to bump.

Every cached catalog entry's key carries the catalog version. A write to a product or a category
bumps it on commit, so every listing, search, home page and product detail built before the
write is unreachable at once: no stale price outlives an edit. Until the read replicas have
caught up with that write, entries are built from the primary, so none is built from a replica
that has not replayed it yet (a new product cached as "not found"). Redis down means misses,
never errors (django-redis ignores its exceptions; see settings.CACHES).
"""

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache

from shop.db_router import read_fresh, replica_catch_up_seconds
from shop.observability import record_cache_lookup

VERSION_KEY = "catalog:version"
# Folded into every entry's key: a release that changes what an entry holds (a read model's
# fields) never reads one cached by the release before it.
SHAPE = 4
JUST_WRITTEN_KEY = "catalog:just-written"  # present while replicas may lack the last write

Value = TypeVar("Value")


def ttl(*, kind: str) -> int:
    """Return the lifetime of `kind` in seconds, jittered so keys do not expire together."""
    base = settings.CACHE_TTLS[kind]
    spread = settings.CACHE_TTL_JITTER
    return max(1, round(base * random.uniform(1 - spread, 1 + spread)))


def catalog_version() -> int:
    """Return the current catalog version, starting a new one if the cache lost it."""
    version = cache.get(VERSION_KEY)
    if version is None:
        # A fresh, never-used number: keys from before a flush can never be hit again.
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY) or 0
    return version


def bump_catalog_version() -> None:
    """Make every cached catalog entry unreachable, and build the next ones from the primary
    until the replicas have caught up (call on commit of a catalog write)."""
    cache.set(VERSION_KEY, time.time_ns(), timeout=None)
    if settings.DATABASE_REPLICA_ALIASES:
        cache.set(JUST_WRITTEN_KEY, True, timeout=math.ceil(replica_catch_up_seconds()))


def _just_written() -> bool:
    return bool(settings.DATABASE_REPLICA_ALIASES) and bool(cache.get(JUST_WRITTEN_KEY))


def _digest(*, params: dict[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, default=str)
    return hashlib.blake2s(canonical.encode(), digest_size=12).hexdigest()


def product_key(*, slug: str) -> str:
    """Return the key of a product page's entry."""
    return f"catalog:{SHAPE}:{catalog_version()}:product:{slug}"


def product_page_key(*, params: dict[str, Any]) -> str:
    """Return the key of a listing's or a search's page, from its parameters."""
    return f"catalog:{SHAPE}:{catalog_version()}:products:{_digest(params=params)}"


def offer_keys(*, pks: Iterable[int]) -> dict[int, str]:
    """Return the key of each product's offer, by product pk."""
    version = catalog_version()
    return {pk: f"catalog:{SHAPE}:{version}:offer:{pk}" for pk in pks}


def forget_products(*, pks: Iterable[int]) -> None:
    """Drop the products' offers (price and stock), so the next read sees their new stock."""
    cache.delete_many(list(offer_keys(pks=pks).values()))


def category_tree_key() -> str:
    """Return the key of the category tree."""
    return f"catalog:{SHAPE}:{catalog_version()}:categories"


def home_key() -> str:
    """Return the key of the home page's featured products."""
    return f"catalog:{SHAPE}:{catalog_version()}:home"


def cached(*, key: str, kind: str, build: Callable[[], Value], label: str = "") -> Value:
    """Return the value under `key`, building and storing it (for `kind`'s TTL) on a miss.

    Hits and misses are counted under `label`, else under `kind`.
    """
    value = cache.get(key)
    record_cache_lookup(label or kind, hit=value is not None)
    if value is None:
        value, fresh = read_fresh(build) if _just_written() else (build(), True)
        # Built from a replica while the primary was away: kept only until replicas catch up.
        cache.set(
            key, value, timeout=ttl(kind=kind) if fresh else math.ceil(replica_catch_up_seconds())
        )
    return value
