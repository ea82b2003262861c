"""API tokens: one per sign-in (per device), expiring, kept only as a digest (django-rest-knox).

The key is shown once, in the sign-in answer. The database holds its SHA-512 digest, so a copy of
the table signs nobody in. A token is revoked alone (sign-out with it) or with all of its user's
(sign out everywhere, a password change or reset). Lookups go through the cache like the user's
(shop/accounts/cache.py): an entry holds the digest, the user's id and the expiry, and is dropped
on commit of the token's deletion, so a revoked token fails at once on every replica.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from knox.crypto import create_token_string, hash_token
from knox.models import AuthToken

from shop.accounts import cache as accounts_cache
from shop.accounts.models import User


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: the key to hand to the client once, and when it stops working."""

    key: str
    expiry: datetime
    user: User


@dataclass(frozen=True)
class TokenHolder:
    """What a valid key resolves to: its digest (to revoke it) and the user's id."""

    digest: str
    user_pk: int


def issue_token(*, user: User) -> IssuedToken:
    """Make a new token for `user`; past API_TOKENS_PER_USER live ones, revoke the oldest."""
    instance, key = AuthToken.objects.create(user=user, expiry=settings.REST_KNOX["TOKEN_TTL"])
    surplus = list(
        AuthToken.objects.filter(user=user)
        .order_by("-created", "-digest")
        .values_list("digest", flat=True)[settings.API_TOKENS_PER_USER :]
    )
    if surplus:
        _delete_tokens(AuthToken.objects.filter(digest__in=surplus))
    return IssuedToken(key=key, expiry=instance.expiry, user=user)


def decoy_token_for(*, user: User) -> IssuedToken:
    """Return a token shaped like issue_token's that authenticates nobody: random, never stored."""
    expiry = timezone.now() + settings.REST_KNOX["TOKEN_TTL"]
    return IssuedToken(key=create_token_string(), expiry=expiry, user=user)


def revoke_token(*, digest: str) -> None:
    """Revoke one token (the one a request signed in with)."""
    _delete_tokens(AuthToken.objects.filter(digest=digest))


def revoke_all_tokens(*, user_pk: int) -> None:
    """Revoke every token of a user."""
    _delete_tokens(AuthToken.objects.filter(user_id=user_pk))


def delete_expired_tokens() -> int:
    """Delete the tokens past their expiry (they already fail); return how many went."""
    with transaction.atomic(durable=True):
        return _delete_tokens(AuthToken.objects.filter(expiry__lt=timezone.now()))


def resolve_token(key: str) -> TokenHolder | None:
    """Return who a key belongs to if it is live, else None; the cache first, then one query."""
    digest = hash_token(key)
    cache_key = accounts_cache.token_key(digest)
    entry = accounts_cache.cache.get(cache_key)
    now = timezone.now()
    if entry is None:
        token = AuthToken.objects.filter(digest=digest).only("digest", "user_id", "expiry").first()
        if token is None:
            return None
        entry = {"user": token.user_id, "expiry": token.expiry.timestamp()}
        remaining = int(entry["expiry"] - now.timestamp())
        if remaining > 0:
            timeout = min(accounts_cache.lifetime(), remaining)
            accounts_cache.cache.set(cache_key, entry, timeout=timeout)
    if entry["expiry"] <= now.timestamp():
        return None
    return TokenHolder(digest=digest, user_pk=entry["user"])


def _delete_tokens(tokens) -> int:
    digests = list(tokens.values_list("digest", flat=True))
    AuthToken.objects.filter(digest__in=digests).delete()
    transaction.on_commit(partial(_forget_tokens, digests))
    return len(digests)


def _forget_tokens(digests: list[str]) -> None:
    accounts_cache.cache.delete_many([accounts_cache.token_key(digest) for digest in digests])
