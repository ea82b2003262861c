"""Signed-in users from the cache: a page or API call by a known user runs no SQL for it.

Entries are dropped on commit of any change to the user (User.save, User.delete) or to a token
(sign-out), so a password change or a deactivation takes effect at once on every replica.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def user_key(pk: int) -> str:
    return f"accounts:user:{pk}"


def token_key(token: str) -> str:
    digest = hashlib.blake2s(token.encode(), digest_size=16).hexdigest()
    return f"accounts:token:{digest}"


def lifetime() -> int:
    return settings.CACHE_TTLS["session"]


def forget_user(pk: int) -> None:
    cache.delete(user_key(pk))


def forget_token(token: str) -> None:
    cache.delete(token_key(token))
