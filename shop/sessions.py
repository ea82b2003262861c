"""The session store: Django's cached_db (Redis first, written through to the database), except
that a database which is away when the answer is ready does not turn that answer into a 400.

Django's database store turns any DatabaseError of an update into UpdateError, which
SessionMiddleware answers with 400 SessionInterrupted ("the session was deleted"). During a
failover that error is the primary being away, not the session being gone, and the request's
work (an order placed, a cart line added) is already committed: the shopper must get its answer.
The session is then kept in the cache only (Redis, replicated) and reaches the database with its
next change. A session really deleted meanwhile (signed out elsewhere) still raises UpdateError.
"""

import logging

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.db import InterfaceError, OperationalError

log = logging.getLogger(__name__)
DATABASE_AWAY = (OperationalError, InterfaceError)


class SessionStore(cached_db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create=must_create)
        except UpdateError as error:
            if not isinstance(error.__context__, DATABASE_AWAY):
                raise
            self._keep_in_cache_only(error.__context__, must_create=False)
        except DATABASE_AWAY as error:  # a new session's insert: Django lets these through
            if not must_create:
                raise
            self._keep_in_cache_only(error, must_create=True)

    def exists(self, session_key: str) -> bool:
        """Whether a key is taken (create() draws until one is not); with the database away,
        the cache's add in _keep_in_cache_only is the check."""
        try:
            return super().exists(session_key)
        except DATABASE_AWAY:
            return False

    def _keep_in_cache_only(self, error: Exception, *, must_create: bool) -> None:
        log.warning("session kept in the cache only, the database is away: %s", error)
        if must_create:
            if not self._cache.add(self.cache_key, self._session, self.get_expiry_age()):
                raise CreateError  # the key is taken: create() draws another
        else:
            self._cache.set(self.cache_key, self._session, self.get_expiry_age())
