"""API tokens expire, are one per sign-in, are stored hashed; a user's departure ends them at once.

Issue 12, items 4 and 5: each test here is an attack that worked before (one token per user for
ever, kept in clear; a user deleted in bulk or deactivated by an update still signed in).
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken

from shop.accounts.tasks import delete_expired_tokens_task
from shop.accounts.tests.actions import JSONClient, as_holder, log_in, sign_in_by_session
from shop.accounts.tests.factories import PASSWORD
from shop.accounts.tokens import issue_token

pytestmark = pytest.mark.django_db

User = get_user_model()


def me(key: str) -> int:
    return as_holder(key).get("/api/v1/auth/me/").status_code


# --- Stored hashed --------------------------------------------------------------------------


def test_the_database_never_holds_a_token_in_clear(shopper):
    key = log_in()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert not any(key in str(value) for value in rows[0])
    assert AuthToken.objects.get().digest == hash_token(key)


def test_the_old_table_of_tokens_in_clear_is_gone():
    assert "authtoken_token" not in connection.introspection.table_names()


# --- One per sign-in, revoked one at a time or all together ---------------------------------


def test_each_sign_in_gets_a_token_of_its_own_and_all_work(shopper):
    phone, laptop = log_in(), log_in()
    assert phone != laptop
    assert me(phone) == me(laptop) == 200


def test_signing_out_revokes_only_the_token_used(shopper, django_capture_on_commit_callbacks):
    phone, laptop = log_in(), log_in()
    assert me(phone) == me(laptop) == 200  # both cached now
    with django_capture_on_commit_callbacks(execute=True):
        assert as_holder(phone).post("/api/v1/auth/logout/").status_code == 204
    assert me(phone) == 401
    assert me(laptop) == 200


def test_signing_out_everywhere_revokes_every_token_and_ends_every_session(
    shopper, django_capture_on_commit_callbacks
):
    phone, laptop = log_in(), log_in()
    browser = JSONClient()
    sign_in_by_session(browser)
    assert me(phone) == me(laptop) == browser.get("/api/v1/auth/me/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = as_holder(phone).post("/api/v1/auth/logout/everywhere/")
    assert response.status_code == 204
    assert me(phone) == me(laptop) == 401
    assert browser.get("/api/v1/auth/me/").status_code == 401
    assert not AuthToken.objects.exists()
    assert me(log_in()) == 200  # the password still works: a fresh sign-in is a fresh start


def test_the_storefront_signs_out_everywhere(client, shopper, django_capture_on_commit_callbacks):
    phone = log_in()
    client.post("/accounts/login/", {"username": shopper.email, "password": PASSWORD})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/logout/everywhere/")
    assert response.status_code == 302
    assert me(phone) == 401
    assert "_auth_user_id" not in client.session


def test_past_the_cap_a_sign_in_revokes_the_oldest_token(shopper, settings):
    settings.API_TOKENS_PER_USER = 3
    first, second, third, fourth = log_in(), log_in(), log_in(), log_in()
    assert me(first) == 401
    assert me(second) == me(third) == me(fourth) == 200


# --- Expiry ---------------------------------------------------------------------------------


def test_a_token_stops_working_at_its_expiry_even_when_cached(shopper, time_machine):
    key = log_in()
    assert me(key) == 200  # cached from here on
    expiry = AuthToken.objects.get().expiry
    assert timedelta(hours=23) < expiry - timezone.now() <= timedelta(hours=24)
    time_machine.move_to(expiry + timedelta(seconds=1), tick=False)
    response = as_holder(key).get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_the_sign_in_answer_says_when_the_token_expires(shopper, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(hours=2)}
    response = JSONClient().post(
        "/api/v1/auth/login/", {"email": shopper.email, "password": PASSWORD}
    )
    expiry = AuthToken.objects.get().expiry
    assert response.json()["expiry"] == expiry.isoformat().replace("+00:00", "Z")
    assert timedelta(minutes=119) < expiry - timezone.now() <= timedelta(hours=2)


def test_the_hourly_sweep_deletes_expired_tokens(shopper, monkeypatch):
    kept = issue_token(user=shopper)
    AuthToken.objects.filter(digest=hash_token(kept.key)).update(
        expiry=timezone.now() + timedelta(hours=1)
    )
    gone = issue_token(user=shopper)
    AuthToken.objects.filter(digest=hash_token(gone.key)).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    assert delete_expired_tokens_task() == 1
    assert list(AuthToken.objects.values_list("digest", flat=True)) == [hash_token(kept.key)]


# --- A user who goes, however they go, is signed out at once (item 4) ----------------------


def _signed_in_everywhere(user) -> tuple[str, JSONClient]:
    key = log_in(user.email)
    browser = JSONClient()
    sign_in_by_session(browser, user.email)
    # Both cached: the user's entry and the token's, as on a busy replica.
    assert me(key) == browser.get("/api/v1/auth/me/").status_code == 200
    return key, browser


def test_users_deleted_in_bulk_from_the_admin_are_signed_out_at_once(
    operator_client, shopper, django_capture_on_commit_callbacks
):
    other = User.objects.create_user(email="bob@example.com", password=PASSWORD)
    key, browser = _signed_in_everywhere(shopper)
    other_key, _ = _signed_in_everywhere(other)
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            "/admin/accounts/user/",
            {
                "action": "delete_selected",
                "_selected_action": [shopper.pk, other.pk],
                "post": "yes",
            },
        )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[shopper.pk, other.pk]).exists()
    assert me(key) == me(other_key) == 401
    assert browser.get("/api/v1/auth/me/").status_code == 401


def test_users_deactivated_by_a_bulk_update_are_signed_out_at_once(
    shopper, django_capture_on_commit_callbacks
):
    key, browser = _signed_in_everywhere(shopper)
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.filter(pk=shopper.pk).update(is_active=False)
    assert me(key) == 401
    assert browser.get("/api/v1/auth/me/").status_code == 401


def test_a_user_deactivated_by_a_save_is_signed_out_at_once(
    operator_client, shopper, django_capture_on_commit_callbacks
):
    key, browser = _signed_in_everywhere(shopper)
    shopper.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        shopper.save()
    assert me(key) == 401
    assert browser.get("/api/v1/auth/me/").status_code == 401
