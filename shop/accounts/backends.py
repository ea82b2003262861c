from django.contrib.auth.backends import ModelBackend

from shop.accounts import cache as accounts_cache
from shop.accounts.models import User


class CachedModelBackend(ModelBackend):
    """Django's model backend, with the per-request user lookup served from the cache."""

    def get_user(self, user_id):
        key = accounts_cache.user_key(user_id)
        user = accounts_cache.cache.get(key)
        if user is None:
            user = User.objects.filter(pk=user_id).first()
            if user is None:
                return None
            accounts_cache.cache.set(key, user, timeout=accounts_cache.lifetime())
        return user if self.user_can_authenticate(user) else None
