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
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

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


# --- Entries: a name under the current version -----------------------------------------------


def key_of(name: str, *, version: int | None = None) -> str:
    """Return the cache key of the entry `name` under `version` (else the current one)."""
    return f"catalog:{SHAPE}:{catalog_version() if version is None else version}:{name}"


def product_name(*, slug: str) -> str:
    """Name the entry of a product page's data."""
    return f"product:{slug}"


def product_page_name(*, params: dict[str, Any]) -> str:
    """Name the entry of a listing's or a search's page, from its parameters."""
    return f"products:{_digest(params=params)}"


def rendered_name(*, view: str, params: dict[str, Any]) -> str:
    """Name the entry of a rendered page or API answer (catalog/rendered.py)."""
    return f"rendered:{view}:{_digest(params=params)}"


CATEGORY_TREE = "categories"
HOME = "home"


def product_key(*, slug: str) -> str:
    """Return the key of a product page's entry."""
    return key_of(product_name(slug=slug))


def product_page_key(*, params: dict[str, Any]) -> str:
    """Return the key of a listing's or a search's page, from its parameters."""
    return key_of(product_page_name(params=params))


def offer_name(*, pk: int) -> str:
    """Name the entry of a product's offer (price and stock)."""
    return f"offer:{pk}"


def offer_keys(*, pks: Iterable[int], version: int | None = None) -> dict[int, str]:
    """Return the key of each product's offer, by product pk."""
    version = catalog_version() if version is None else version
    return {pk: key_of(offer_name(pk=pk), version=version) for pk in pks}


def forget_products(*, pks: Iterable[int]) -> None:
    """Drop the products' offers (price and stock), so the next read sees their new stock."""
    cache.delete_many(list(offer_keys(pks=pks).values()))


def category_tree_key() -> str:
    """Return the key of the category tree."""
    return key_of(CATEGORY_TREE)


def home_key() -> str:
    """Return the key of the home page's featured products."""
    return key_of(HOME)


# --- Reading: the version and the entries in one round trip --------------------------------

# KEYS[1] is the version's key; the entries' keys are ARGV[1] .. version .. ARGV[i]. The keys are
# built inside the script, which Redis Cluster would refuse: the catalog cache is on the Sentinel
# group, never on the carts' cluster.
_READ_SCRIPT = """
local version = redis.call('GET', KEYS[1])
if not version then return false end
local found = {version}
for i = 2, #ARGV do found[i] = redis.call('GET', ARGV[1] .. version .. ARGV[i]) end
return found
"""


@dataclass(frozen=True)
class Read:
    """Entries read under one catalog version: `values[name]` is None where there is none."""

    version: int
    values: dict[str, Any]


def _redis_client() -> Any | None:
    client = getattr(cache, "client", None)
    return client if hasattr(client, "get_client") and hasattr(client, "decode") else None


def read(*, names: Iterable[str]) -> Read:
    """Return the current version and the entries `names` under it.

    On Redis, one round trip (a script) instead of one for the version and one for the entries.
    Redis down or no version yet: the version is read (or started) as catalog_version() does,
    and the entries count as missing.
    """
    names = list(names)
    client = _redis_client()
    if client is not None:
        prefix = cache.make_key(f"catalog:{SHAPE}:")
        try:
            found = client.get_client(write=False).eval(
                _READ_SCRIPT,
                1,
                cache.make_key(VERSION_KEY),
                prefix,
                *(f":{name}" for name in names),
            )
        except (RedisError, OSError):  # as IGNORE_EXCEPTIONS: misses, never an error
            found = None
        if found:
            values = [client.decode(value) if value is not None else None for value in found[1:]]
            values += [None] * (len(names) - len(values))
            return Read(version=int(found[0]), values=dict(zip(names, values, strict=True)))
        version = catalog_version()
        return Read(version=version, values=dict.fromkeys(names))
    version = catalog_version()
    keys = {name: key_of(name, version=version) for name in names}
    found = cache.get_many(list(keys.values()))
    return Read(version=version, values={name: found.get(key) for name, key in keys.items()})


def remaining_lifetime(*, key: str, kind: str) -> int:
    """Return the seconds `key` has left to live, else `kind`'s lifetime (no such entry, or a
    cache that does not tell)."""
    try:
        left = cache.ttl(key) if hasattr(cache, "ttl") else None
    except (RedisError, OSError):  # django-redis lets a connection error of ttl() through
        left = None
    return left if isinstance(left, int) and left > 0 else ttl(kind=kind)


def store(*, key: str, value: Any, kind: str, fresh: bool = True) -> None:
    """Keep `value` for `kind`'s lifetime; one built from a replica while the primary was away
    only until the replicas catch up."""
    cache.set(
        key, value, timeout=ttl(kind=kind) if fresh else math.ceil(replica_catch_up_seconds())
    )


def cached(*, name: str, kind: str, build: Callable[[], Value], label: str = "") -> Value:
    """Return the entry `name`, building and storing it (for `kind`'s TTL) on a miss.

    Hits and misses are counted under `label`, else under `kind`.
    """
    got = read(names=[name])
    value = got.values[name]
    record_cache_lookup(label or kind, hit=value is not None)
    if value is None:
        value, fresh = read_fresh(build) if _just_written() else (build(), True)
        store(key=key_of(name, version=got.version), value=value, kind=kind, fresh=fresh)
    return value
