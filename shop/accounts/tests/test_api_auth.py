import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import TestCase
from knox.crypto import hash_token
from knox.models import AuthToken

from shop.accounts.tests.actions import JSONClient, sign_in_by_session
from shop.accounts.tests.factories import PASSWORD
from shop.accounts.tokens import issue_token

pytestmark = pytest.mark.django_db

User = get_user_model()
RESET_LINK = re.compile(
    re.escape(settings.SHOP_PUBLIC_URL) + r"/accounts/reset/(?P<uid>[^/]+)/(?P<token>[^/]+)/"
)


def token_client(key: str) -> JSONClient:
    client = JSONClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- Registration ---------------------------------------------------------------------------


def test_registering_returns_a_token_that_authenticates_me():
    response = JSONClient().post(
        "/api/v1/auth/register/", {"email": " Grace@Example.COM", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.json().keys() == {"token", "expiry", "email"}
    assert response.json()["email"] == "grace@example.com"
    stored = AuthToken.objects.get(user__email="grace@example.com")
    assert stored.digest == hash_token(response.json()["token"])  # the key itself is not kept
    me = token_client(response.json()["token"]).get("/api/v1/auth/me/")
    assert me.status_code == 200
    assert me.json() == {
        "id": User.objects.get().pk,
        "email": "grace@example.com",
        "full_name": "",
    }


def test_registering_also_starts_a_session(api_client):
    api_client.post("/api/v1/auth/register/", {"email": "grace@example.com", "password": PASSWORD})
    assert api_client.get("/api/v1/auth/me/").json()["email"] == "grace@example.com"


def test_registering_a_taken_email_answers_like_a_new_one_with_a_token_that_opens_nothing(
    api_client, shopper
):
    new = JSONClient().post(
        "/api/v1/auth/register/", {"email": "grace@example.com", "password": PASSWORD}
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        taken = api_client.post(
            "/api/v1/auth/register/", {"email": "ADA@example.com", "password": "another-pass-77"}
        )

    assert (taken.status_code, new.status_code) == (201, 201)
    assert set(taken.json()) == set(new.json()) == {"token", "expiry", "email"}
    assert taken.json()["email"] == "ada@example.com"
    assert len(taken.json()["token"]) == len(new.json()["token"])
    assert token_client(taken.json()["token"]).get("/api/v1/auth/me/").status_code == 401
    assert api_client.get("/api/v1/auth/me/").status_code == 401  # and no session either
    assert User.objects.filter(email="ada@example.com").count() == 1
    assert not AuthToken.objects.filter(user=shopper).exists()
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["ada@example.com"], "Someone tried to register with your e-mail address")
    ]
    body = mail.outbox[0].body
    assert f"{settings.SHOP_PUBLIC_URL}/accounts/login/" in body
    assert f"{settings.SHOP_PUBLIC_URL}/accounts/password/reset/" in body


def test_registering_with_a_weak_password_names_the_problem_and_creates_no_user(api_client):
    response = api_client.post(
        "/api/v1/auth/register/", {"email": "grace@example.com", "password": "12345678"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "password: This password is too common."
    assert response.json()["errors"] == {
        "password": ["This password is too common.", "This password is entirely numeric."]
    }
    assert not User.objects.exists()


def test_registering_with_a_password_like_the_email_is_refused(api_client):
    response = api_client.post(
        "/api/v1/auth/register/", {"email": "gracehopper@example.com", "password": "gracehopper"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "password: The password is too similar to the e-mail address."
    )
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"email": "a" * 243 + "@example.com", "password": PASSWORD},
            "email: Ensure this field has no more than 254 characters.",
        ),
        (
            {"email": "grace@example.com", "password": "x" * 129},
            "password: Ensure this field has no more than 128 characters.",
        ),
        ({"email": "not-an-address", "password": PASSWORD}, "email: Enter a valid email address."),
        ({"password": PASSWORD}, "email: This field is required."),
        ({"email": "grace@example.com"}, "password: This field is required."),
        ({"email": "grace@example.com", "password": 123456789012}, "password: Not a valid string."),
        (
            {"email": ["grace@example.com"], "password": PASSWORD},
            "email: Enter a valid email address.",
        ),
        ({"email": None, "password": PASSWORD}, "email: This field may not be null."),
    ],
)
def test_registering_with_bad_fields_is_a_400_that_says_why(api_client, body, detail):
    response = api_client.post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert not User.objects.exists()


def test_registering_with_malformed_json_is_a_400(api_client):
    response = api_client.post(
        "/api/v1/auth/register/", '{"email": "grace@', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("JSON parse error")


def test_registering_with_a_json_list_is_a_400(api_client):
    response = api_client.post("/api/v1/auth/register/", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid data. Expected a dictionary, but got list."


def test_registering_with_a_form_body_is_a_415(api_client):
    response = api_client.post(
        "/api/v1/auth/register/",
        "email=grace%40example.com",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert response.json() == {
        "detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.',
        "code": "unsupported_media_type",
    }


# --- Login, logout and me -------------------------------------------------------------------


def test_logging_in_returns_a_token_of_its_own(api_client, shopper):
    response = api_client.post(
        "/api/v1/auth/login/", {"email": "ADA@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json().keys() == {"token", "expiry", "email"}
    assert response.json()["email"] == shopper.email
    assert AuthToken.objects.get(user=shopper).digest == hash_token(response.json()["token"])


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong-password-1"), ("nobody@example.com", PASSWORD)],
)
def test_logging_in_with_bad_credentials_never_says_which_was_wrong(
    api_client, shopper, email, password
):
    response = api_client.post("/api/v1/auth/login/", {"email": email, "password": password})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid e-mail or password.",
        "code": "invalid_credentials",
    }
    assert not AuthToken.objects.exists()


def test_an_inactive_account_cannot_log_in(api_client, shopper):
    shopper.is_active = False
    shopper.save()
    response = api_client.post(
        "/api/v1/auth/login/", {"email": shopper.email, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid e-mail or password."


def test_me_needs_authentication(api_client):
    response = api_client.get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_logging_out_revokes_the_token(shopper, django_capture_on_commit_callbacks):
    key = JSONClient().post("/api/v1/auth/login/", {"email": shopper.email, "password": PASSWORD})
    client = token_client(key.json()["token"])
    assert client.get("/api/v1/auth/me/").status_code == 200  # the token is now cached
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/v1/auth/logout/").status_code == 204
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}
    assert not AuthToken.objects.exists()


def test_logging_out_ends_the_session(api_client, shopper, django_capture_on_commit_callbacks):
    sign_in_by_session(api_client)
    assert api_client.get("/api/v1/auth/me/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post("/api/v1/auth/logout/").status_code == 204
    assert api_client.get("/api/v1/auth/me/").status_code == 401


def test_logging_out_needs_authentication(api_client):
    response = api_client.post("/api/v1/auth/logout/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_known_token_resolves_without_a_query_once_cached(shopper, django_assert_num_queries):
    client = token_client(issue_token(user=shopper).key)
    assert client.get("/api/v1/auth/me/").status_code == 200
    with django_assert_num_queries(0):
        response = client.get("/api/v1/auth/me/")
    assert response.json()["email"] == "ada@example.com"


# --- Password change ------------------------------------------------------------------------


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    api_client, shopper, django_capture_on_commit_callbacks
):
    elsewhere = JSONClient()
    sign_in_by_session(elsewhere)
    # Its user is now cached, with the session hash the cache keeps instead of the password.
    assert elsewhere.get("/api/v1/auth/me/").status_code == 200
    sign_in_by_session(api_client)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/auth/password/change/",
            {"old_password": PASSWORD, "new_password": "a-brand-new-passphrase"},
        )
    assert response.status_code == 200
    assert api_client.get("/api/v1/auth/me/").status_code == 200
    assert elsewhere.get("/api/v1/auth/me/").status_code == 401


def test_after_a_password_change_only_the_new_password_logs_in(
    api_client, shopper, django_capture_on_commit_callbacks
):
    sign_in_by_session(api_client)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            "/api/v1/auth/password/change/",
            {"old_password": PASSWORD, "new_password": "a-brand-new-passphrase"},
        )
    login = JSONClient().post
    old = login("/api/v1/auth/login/", {"email": shopper.email, "password": PASSWORD})
    new = login(
        "/api/v1/auth/login/", {"email": shopper.email, "password": "a-brand-new-passphrase"}
    )
    assert old.status_code == 400
    assert new.status_code == 200


def test_a_password_change_replaces_the_token(shopper, django_capture_on_commit_callbacks):
    old_key = issue_token(user=shopper).key
    client = token_client(old_key)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/auth/password/change/",
            {"old_password": PASSWORD, "new_password": "a-brand-new-passphrase"},
        )
    new_key = response.json()["token"]
    assert new_key != old_key
    assert client.get("/api/v1/auth/me/").status_code == 401
    assert token_client(new_key).get("/api/v1/auth/me/").status_code == 200


def test_a_wrong_old_password_changes_nothing(api_client, shopper):
    sign_in_by_session(api_client)
    response = api_client.post(
        "/api/v1/auth/password/change/",
        {"old_password": "not-my-password", "new_password": "a-brand-new-passphrase"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "old_password: Your old password was entered incorrectly."
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)


def test_a_new_password_must_pass_the_validators(api_client, shopper):
    sign_in_by_session(api_client)
    response = api_client.post(
        "/api/v1/auth/password/change/", {"old_password": PASSWORD, "new_password": "short"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "new_password: This password is too short. It must contain at least 8 characters."
    )
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)


def test_changing_the_password_needs_authentication(api_client):
    response = api_client.post(
        "/api/v1/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "a-brand-new-passphrase"},
    )
    assert response.status_code == 401


# --- Password reset -------------------------------------------------------------------------


def request_reset_link(client: JSONClient, email: str) -> dict:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker sends it after commit
        response = client.post("/api/v1/auth/password/reset/", {"email": email})
    assert response.status_code == 202
    assert len(mail.outbox) == 1
    return RESET_LINK.search(mail.outbox[0].body).groupdict()


def test_a_password_reset_emails_one_link(api_client, shopper):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api_client.post("/api/v1/auth/password/reset/", {"email": "ADA@example.com"})
    assert response.status_code == 202
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert mail.outbox[0].subject == "Reset your Shop password"
    assert RESET_LINK.search(mail.outbox[0].body)


def test_a_password_reset_for_an_unknown_email_answers_the_same_and_sends_nothing(
    api_client, shopper
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        known = api_client.post("/api/v1/auth/password/reset/", {"email": "ada@example.com"})
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        unknown = api_client.post("/api/v1/auth/password/reset/", {"email": "nobody@example.com"})
    assert unknown.status_code == 202
    assert unknown.json() == known.json()
    assert mail.outbox == []


def test_the_reset_link_sets_a_new_password_once(
    api_client, shopper, django_capture_on_commit_callbacks
):
    link = request_reset_link(api_client, shopper.email)
    body = {"uid": link["uid"], "token": link["token"], "new_password": "a-brand-new-passphrase"}
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/password/reset/confirm/", body)
    assert response.status_code == 200
    shopper.refresh_from_db()
    assert shopper.check_password("a-brand-new-passphrase")
    again = api_client.post("/api/v1/auth/password/reset/confirm/", body)
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_reset_link"


def test_a_password_reset_revokes_the_token(
    api_client, shopper, django_capture_on_commit_callbacks
):
    client = token_client(issue_token(user=shopper).key)
    assert client.get("/api/v1/auth/me/").status_code == 200
    link = request_reset_link(api_client, shopper.email)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            "/api/v1/auth/password/reset/confirm/",
            {**link, "new_password": "a-brand-new-passphrase"},
        )
    assert client.get("/api/v1/auth/me/").status_code == 401


@pytest.mark.parametrize(
    ("uid", "token"),
    [
        ("MQ", "bad-token"),
        ("not base64!", "bad-token"),
        ("OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "bad-token"),  # 9999…: beyond any primary key
        ("YWJj", "bad-token"),  # "abc"
    ],
)
def test_a_bad_reset_link_is_a_400_and_changes_nothing(api_client, shopper, uid, token):
    response = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"uid": uid, "token": token, "new_password": "a-brand-new-passphrase"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "This password reset link is invalid or has expired.",
        "code": "invalid_reset_link",
    }
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)


def test_a_reset_password_must_pass_the_validators(api_client, shopper):
    link = request_reset_link(api_client, shopper.email)
    response = api_client.post(
        "/api/v1/auth/password/reset/confirm/", {**link, "new_password": "ada@example.com"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "new_password: The password is too similar to the e-mail address."
    )


def test_the_schema_documents_every_auth_operation(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    operations = {
        operation["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/auth/")
        for operation in item.values()
    }
    assert operations == {
        "auth_register",
        "auth_login",
        "auth_logout",
        "auth_logout_everywhere",
        "auth_me",
        "auth_password_change",
        "auth_password_reset",
        "auth_password_reset_confirm",
    }


def test_signing_in_gives_a_guest_session_the_idle_lifetime_of_an_account(
    api_client, shopper, settings
):
    guest = api_client.session
    guest.set_expiry(24 * 60 * 60)  # as a guest cart does
    guest.save()
    sign_in_by_session(api_client)
    assert api_client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
