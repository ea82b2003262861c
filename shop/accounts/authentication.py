from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from shop.accounts import cache as accounts_cache
from shop.accounts.backends import CachedModelBackend


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, resolved through the cache rather than a query per call."""

    def authenticate(self, request):
        """Return the token's user; any other Authorization header is a 401, never anonymous."""
        # DRF's TokenAuthentication passes on a scheme it does not know, and the request then
        # ran as anonymous (or as the session's user) with a credential nobody checked (#11).
        words = get_authorization_header(request).split()
        ours = bool(words) and words[0].lower() == self.keyword.lower().encode()
        if "HTTP_AUTHORIZATION" in request.META and not ours:
            raise AuthenticationFailed(
                f"Unsupported Authorization header: send `{self.keyword} <key>`."
            )
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        cache_key = accounts_cache.token_key(key)
        user_pk = accounts_cache.cache.get(cache_key)
        if user_pk is None:
            token = Token.objects.filter(key=key).only("user_id").first()
            if token is None:
                raise AuthenticationFailed("Invalid token.")
            user_pk = token.user_id
            accounts_cache.cache.set(cache_key, user_pk, timeout=accounts_cache.lifetime())
        user = CachedModelBackend().get_user(user_pk)
        if user is None:
            raise AuthenticationFailed("User inactive or deleted.")
        return user, key
