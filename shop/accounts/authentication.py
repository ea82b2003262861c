"""`Authorization: Token <key>` for the API: the shop's tokens (shop/accounts/tokens.py)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from shop.accounts.backends import CachedModelBackend
from shop.accounts.tokens import TokenHolder, resolve_token


class CachedTokenAuthentication(TokenAuthentication):
    """knox's token check, resolved through the cache rather than a query per call.

    `request.auth` is the token's TokenHolder: sign-out revokes that token and no other.
    """

    def authenticate(self, request):
        """Return the token's user; any other Authorization header is a 401, never anonymous."""
        # DRF passes on a scheme it does not know, and the request then ran as anonymous (or as
        # the session's user) with a credential nobody checked (#11).
        words = get_authorization_header(request).split()
        keyword = self.authenticate_header(request)
        if "HTTP_AUTHORIZATION" not in request.META:
            return None
        if not words or words[0].lower() != keyword.lower().encode():
            raise AuthenticationFailed(f"Unsupported Authorization header: send `{keyword} <key>`.")
        if len(words) != 2:
            raise AuthenticationFailed(
                "Invalid token header: send `Token <key>`, one key without spaces."
            )
        try:
            key = words[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise AuthenticationFailed("Invalid token.") from error
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key: str) -> tuple:
        holder: TokenHolder | None = resolve_token(key)
        if holder is None:
            raise AuthenticationFailed("Invalid token.")
        user = CachedModelBackend().get_user(holder.user_pk)
        if user is None:
            raise AuthenticationFailed("User inactive or deleted.")
        return user, holder


class CachedTokenScheme(OpenApiAuthenticationExtension):
    """The schema's name and shape of `Authorization: Token <key>`."""

    target_class = CachedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Token",  # noqa: S106 (the scheme's word, not a secret)
        )
