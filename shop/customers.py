"""Who is shopping: a signed-in account, or a guest known only by the session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase

if TYPE_CHECKING:
    from django.http import HttpRequest

    from shop.accounts.models import User


@dataclass(frozen=True)
class Customer:
    """A user or a guest session: what carts and orders belong to.

    A guest's cart and orders hang off the session; an account's off the user, whatever the
    session. `session` is None where there is none (a token-authenticated API call).
    """

    user: User | AnonymousUser
    session: SessionBase | None

    @classmethod
    def of(cls, request: HttpRequest) -> Customer:
        """Return the customer making `request`."""
        return cls(user=request.user, session=getattr(request, "session", None))

    @property
    def is_guest(self) -> bool:
        return not self.user.is_authenticated

    @property
    def user_pk(self) -> int | None:
        return None if self.is_guest else self.user.pk
