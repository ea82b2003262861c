from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from shop.accounts.cache import forget_users
from shop.outbox import DeliveryAttempts


class UserQuerySet(models.QuerySet):
    """Bulk writes drop the cached users they touch, as a save or a delete does.

    The admin's bulk delete and any `update(is_active=False)` skip User.save and User.delete;
    without this a deleted or deactivated user stayed signed in until the cache entry expired.
    """

    def update(self, **fields) -> int:
        pks = list(self.values_list("pk", flat=True))
        updated = super().update(**fields)
        transaction.on_commit(lambda: forget_users(pks), using=self.db)
        return updated

    def delete(self):
        pks = list(self.values_list("pk", flat=True))
        result = super().delete()
        transaction.on_commit(lambda: forget_users(pks), using=self.db)
        return result

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        updated = super().bulk_update(objs, fields, batch_size=batch_size)
        pks = [obj.pk for obj in objs]
        transaction.on_commit(lambda: forget_users(pks), using=self.db)
        return updated


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str) -> "User":
        """Find the user by e-mail whatever its case (addresses are stored lower-cased)."""
        return self.get(email=username.strip().lower())

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A shopper or an operator; the e-mail address is the login."""

    email = models.EmailField("e-mail address", max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Raised by "sign out everywhere": every session signed before it stops matching.
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    # Set on a user rebuilt from the cache, which holds this rather than the password hash.
    cached_session_auth_hash: str | None = None

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        pk = self.pk
        transaction.on_commit(lambda: forget_users([pk]))

    def delete(self, *args, **kwargs):
        pk = self.pk
        result = super().delete(*args, **kwargs)
        transaction.on_commit(lambda: forget_users([pk]))
        return result

    def get_session_auth_hash(self) -> str:
        """Return what a session is checked against: the cached one while the password is unread."""
        if self.cached_session_auth_hash is not None and "password" in self.get_deferred_fields():
            return self.cached_session_auth_hash
        return super().get_session_auth_hash()

    def _get_session_auth_hash(self, secret=None) -> str:
        """Django's HMAC of the password hash, with the session generation once it was raised."""
        if not self.session_generation:
            return super()._get_session_auth_hash(secret=secret)
        key_salt = "shop.accounts.models.User.get_session_auth_hash"
        value = f"{self.password}:{self.session_generation}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


class OutgoingMail(DeliveryAttempts):
    """An e-mail to an address, written in the request's transaction and sent by a worker.

    The request writes one whether or not an account uses the address: the worker looks the
    account up, so neither the answer nor its time says whether one exists. No secret is stored:
    the worker makes a reset link's token as it sends (issue 12). Failed sends are retried and
    parked like the orders' outbox events (shop/accounts/outbox.py).
    """

    class Kind(models.TextChoices):
        PASSWORD_RESET = "password_reset", "Password reset link"
        REGISTRATION_ATTEMPT = "registration_attempt", "Registration with a taken address"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    email = models.EmailField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    # Done: sent, or nobody to send it to (no active account uses the address).
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outgoing_mail_unsent",
                condition=Q(sent_at=None, parked_at=None),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.email}"
