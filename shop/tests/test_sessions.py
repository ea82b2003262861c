import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import identify_hasher
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from config import settings as production_settings
from shop.middleware import SEEN_KEY

pytestmark = pytest.mark.django_db


def test_sessions_live_in_the_cache_backed_by_the_database():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    assert settings.SESSION_COOKIE_AGE == 30 * 60


def test_an_active_session_has_its_idle_lifetime_renewed(client, operator):
    client.force_login(operator)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    session = SessionStore(session_key=key)
    session[SEEN_KEY] = int(time.time()) - settings.SESSION_KEEPALIVE_SECONDS
    session.save()
    # The session was last renewed long ago: one minute of its idle lifetime is left.
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() + timedelta(minutes=1)
    )
    client.get("/")
    expires_in = Session.objects.get(session_key=key).expire_date - timezone.now()
    assert expires_in > timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


def test_an_active_session_is_not_rewritten_on_every_request(
    client, operator, django_assert_num_queries
):
    client.force_login(operator)
    client.get("/")
    client.get("/")
    with django_assert_num_queries(0):
        client.get("/healthz")


def test_passwords_are_hashed_with_argon2_outside_tests(settings):
    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS
    user = get_user_model().objects.create_user(email="a@example.com", password="pw-Strong-42")
    assert identify_hasher(user.password).algorithm == "argon2"
