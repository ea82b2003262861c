import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import identify_hasher
from django.contrib.sessions.backends.cached_db import SessionStore

from config import settings as production_settings
from shop.middleware import SEEN_KEY

pytestmark = pytest.mark.django_db


def test_sessions_live_in_the_cache_backed_by_the_database():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    assert settings.SESSION_COOKIE_AGE == 30 * 60


def test_an_active_session_has_its_idle_lifetime_renewed(client, operator):
    client.force_login(operator)
    session = SessionStore(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)
    session[SEEN_KEY] = int(time.time()) - settings.SESSION_KEEPALIVE_SECONDS - 1
    session.save()
    before = SessionStore(session_key=session.session_key).get_expiry_date()
    time.sleep(1)
    client.get("/")
    after = SessionStore(session_key=session.session_key).get_expiry_date()
    assert after > before


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
