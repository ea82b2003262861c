"""Account writes: registration, sign-in and sign-out, passwords; for the storefront and the API."""

from typing import cast

from django.conf import settings
from django.contrib.auth import SESSION_KEY, login, logout, update_session_auth_hash
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils.http import urlsafe_base64_decode
from django.utils.module_loading import import_string

from shop.accounts.exceptions import InvalidResetLink
from shop.accounts.models import OutgoingMail, User
from shop.accounts.outbox import record_mail
from shop.accounts.tokens import (
    IssuedToken,
    TokenHolder,
    decoy_token_for,
    issue_token,
    revoke_all_tokens,
    revoke_token,
)

BACKEND = "shop.accounts.backends.CachedModelBackend"
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
PASSWORD_MAX_LENGTH = 128  # enough for any passphrase; bounds the cost of hashing one


def register_user(*, email: str, password: str) -> User | None:
    """Create a shopper's account; if the address has one, e-mail its owner instead (None).

    Callers answer alike either way, so registering never says whether an address has an
    account (issue 12). The caller has validated the password.
    """
    try:
        with transaction.atomic(durable=True):
            return User.objects.create_user(email=email, password=password)
    except IntegrityError:  # e-mails are stored lower-cased, so this is case-blind
        with transaction.atomic(durable=True):
            record_mail(kind=OutgoingMail.Kind.REGISTRATION_ATTEMPT, email=_stored_email(email))
        return None


def decoy_token(*, email: str) -> IssuedToken:
    """Return a token shaped like sign_in's that authenticates nobody: random, never stored."""
    return decoy_token_for(user=User(email=_stored_email(email)))


def sign_in(*, request: HttpRequest, user: User) -> IssuedToken:
    """Start a session for `user`, run the sign-in hooks (the guest cart merge), return a new
    API token for this device (each sign-in gets its own; the others stay)."""
    login(request, user, backend=BACKEND)
    for hook in settings.SIGN_IN_HOOKS:
        import_string(hook)(request=request, user=user)
    request.session.set_expiry(None)  # a guest cart's 24 h gives way to the 30 min idle lifetime
    with transaction.atomic(durable=True):
        return issue_token(user=user)


def sign_out(*, request: HttpRequest) -> None:
    """End this session, and revoke the API token the request came with (only that one)."""
    holder = getattr(request, "auth", None)
    if isinstance(holder, TokenHolder):
        with transaction.atomic(durable=True):
            revoke_token(digest=holder.digest)
    logout(request)


def sign_out_everywhere(*, request: HttpRequest) -> None:
    """End every session and revoke every API token of the signed-in user, this one included."""
    user = _signed_in_user(request=request)
    with transaction.atomic(durable=True):
        # The session hash mixes in the generation: sessions signed before no longer match.
        User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
        revoke_all_tokens(user_pk=user.pk)
    logout(request)


def change_password(*, request: HttpRequest, password: str) -> IssuedToken:
    """Set the signed-in user's password: this session stays, every other one and every token end.

    The caller gets a fresh token; its sessions elsewhere end through Django's session hash.
    """
    user = _signed_in_user(request=request)
    with transaction.atomic(durable=True):
        _replace_password(user=user, password=password)
        token = issue_token(user=user)
    if SESSION_KEY in request.session:
        update_session_auth_hash(request, user)
    return token


@transaction.atomic(durable=True)
def send_password_reset(*, email: str) -> None:
    """Queue a reset link for the address; a worker e-mails it if an active account uses it."""
    record_mail(kind=OutgoingMail.Kind.PASSWORD_RESET, email=_stored_email(email))


def get_user_for_password_reset(*, uidb64: str, token: str) -> User:
    """Return the user a reset link was made for, or raise InvalidResetLink."""
    try:
        user = User.objects.get(pk=urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, User.DoesNotExist, ValidationError) as error:
        raise InvalidResetLink from error
    if not default_token_generator.check_token(user, token):
        raise InvalidResetLink
    return user


@transaction.atomic(durable=True)
def reset_password(*, user: User, password: str) -> None:
    """Set a new password from a reset link: every session and every API token of `user` end."""
    _replace_password(user=user, password=password)


def _signed_in_user(*, request: HttpRequest) -> User:
    # The views that call these services let only a signed-in user in.
    return cast(User, request.user)


def _stored_email(email: str) -> str:
    return User.objects.normalize_email(email).lower()


def _replace_password(*, user: User, password: str) -> None:
    # Only the password column: `user` may come from the cache, a little behind the database.
    user.set_password(password)
    user.save(update_fields=["password"])
    revoke_all_tokens(user_pk=user.pk)
