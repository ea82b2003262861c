from django.contrib.auth.backends import ModelBackend
from django.db import router

from shop.accounts import cache as accounts_cache
from shop.accounts.models import User

# What a signed-in request reads of its user, in the model's field order (Model.from_db needs
# it). Never the password hash (issue 11): the session is checked against the cached
# session_auth_hash instead, and any other field is loaded from the database when read.
CACHED_FIELDS = [
    field.attname
    for field in User._meta.concrete_fields
    if field.attname in {"id", "email", "full_name", "is_active", "is_staff", "is_superuser"}
]


class CachedModelBackend(ModelBackend):
    """Django's model backend, with the per-request user lookup served from the cache."""

    def get_user(self, user_id):
        user = _recall_user(pk=user_id)
        if user is None:
            user = User.objects.filter(pk=user_id).first()
            if user is None:
                return None
            _remember_user(user=user)
        return user if self.user_can_authenticate(user) else None


def _remember_user(*, user: User) -> None:
    entry = {
        "fields": [getattr(user, name) for name in CACHED_FIELDS],
        "session_auth_hash": user.get_session_auth_hash(),
    }
    accounts_cache.cache.set(
        accounts_cache.user_key(user.pk), entry, timeout=accounts_cache.lifetime()
    )


def _recall_user(*, pk) -> User | None:
    entry = accounts_cache.cache.get(accounts_cache.user_key(pk))
    if entry is None:
        return None
    user = User.from_db(router.db_for_read(User), CACHED_FIELDS, entry["fields"])
    user.cached_session_auth_hash = entry["session_auth_hash"]
    return user
