"""Account writes: registration, sign-in and sign-out, for the storefront and the API alike."""

from django.conf import settings
from django.contrib.auth import login, logout
from django.db import transaction
from django.http import HttpRequest
from django.utils.module_loading import import_string
from rest_framework.authtoken.models import Token

from shop.accounts import cache as accounts_cache
from shop.accounts.models import User

BACKEND = "shop.accounts.backends.CachedModelBackend"


@transaction.atomic
def register_user(*, email: str, password: str) -> User:
    """Create a shopper's account (the caller has validated the e-mail and the password)."""
    return User.objects.create_user(email=email, password=password)


def sign_in(*, request: HttpRequest, user: User) -> Token:
    """Start a session for `user`, run the sign-in hooks (the guest cart merge), return a token."""
    login(request, user, backend=BACKEND)
    for hook in settings.SIGN_IN_HOOKS:
        import_string(hook)(request=request, user=user)
    token, _ = Token.objects.get_or_create(user=user)
    return token


def sign_out(*, request: HttpRequest) -> None:
    """End the session and revoke the caller's API token, everywhere at once."""
    user = request.user
    if user.is_authenticated:
        for token in Token.objects.filter(user=user):
            accounts_cache.forget_token(token.key)
            token.delete()
    logout(request)
