"""Signed-in users from the cache: a page or API call by a known user runs no SQL for it.

Entries are dropped on commit of any change to the user (a save, a delete, a bulk update or
delete: shop/accounts/models.py) or to a token (shop/accounts/tokens.py), so a password change,
a deactivation or a deletion takes effect at once on every replica.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def user_key(pk: int) -> str:
    return f"accounts:user:{pk}"


def token_key(digest: str) -> str:
    """The entry of the token with this (SHA-512) digest: never the key itself."""
    short = hashlib.blake2s(digest.encode(), digest_size=16).hexdigest()
    return f"accounts:token:{short}"


def lifetime() -> int:
    return settings.CACHE_TTLS["session"]


def forget_users(pks) -> None:
    cache.delete_many([user_key(pk) for pk in pks])
