import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, TestCase

from shop.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "a-brand-new-passphrase"
RESET_PATH = re.compile(
    re.escape(settings.SHOP_PUBLIC_URL) + r"(?P<path>/accounts/reset/[^/]+/[^/]+/)"
)


MESSAGE = re.compile(r'<li class="message[^"]*">(.*?)</li>')


def messages_of(response) -> list[str]:
    """Return the flash messages the page shows (pages are filled per shopper: read the HTML)."""
    return MESSAGE.findall(response.content.decode())


def signed_in_email(response) -> str | None:
    """Return the e-mail the page's header says is signed in, else None."""
    found = re.search(r'<span class="account-email" title="([^"]+)">', response.content.decode())
    return found and found.group(1)


def register(client: Client, **fields: str):
    body = {"email": "grace@example.com", "password1": PASSWORD, "password2": PASSWORD}
    return client.post("/accounts/register/", {**body, **fields}, follow=True)


def sign_in(client: Client, password: str = PASSWORD, **extra: str):
    body = {"username": "ada@example.com", "password": password, **extra}
    return client.post("/accounts/login/", body, follow=True)


# --- Header ---------------------------------------------------------------------------------


def test_the_header_offers_sign_in_and_registration_to_visitors(client):
    page = client.get("/").content.decode()
    assert 'href="/accounts/login/"' in page
    assert 'href="/accounts/register/"' in page
    assert 'action="/accounts/logout/"' not in page


def test_the_header_shows_a_signed_in_shoppers_email_and_a_sign_out_form(client, shopper):
    client.force_login(shopper)
    page = client.get("/").content.decode()
    assert "ada@example.com" in page
    assert 'href="/accounts/password/change/"' in page
    assert 'action="/accounts/logout/"' in page
    assert 'href="/accounts/login/"' not in page


# --- Registration ---------------------------------------------------------------------------


def test_registering_signs_the_shopper_in_and_says_so(client):
    response = register(client)
    assert response.redirect_chain == [("/", 302)]
    assert messages_of(response) == ["Welcome! Your account grace@example.com is ready."]
    assert signed_in_email(response) == "grace@example.com"
    assert 'action="/accounts/logout/"' in response.content.decode()


def test_registering_returns_to_a_safe_next_page(client):
    response = register(client, next="/search/?q=kettle")
    assert response.redirect_chain == [("/search/?q=kettle", 302)]


def test_registering_ignores_a_next_page_on_another_site(client):
    response = register(client, next="https://evil.example/")
    assert response.redirect_chain == [("/", 302)]


def test_registering_with_mismatched_passwords_shows_the_error_and_creates_no_user(client):
    response = register(client, password2="something-else-9")
    assert response.status_code == 200
    assert response.context["form"].errors == {"password2": ["The two passwords do not match."]}
    assert not User.objects.exists()


def test_registering_with_a_weak_password_shows_why(client):
    response = register(client, password1="grace1234", password2="grace1234")
    assert response.context["form"].errors == {
        "password1": ["The password is too similar to the e-mail address."]
    }
    assert not User.objects.exists()


def test_registering_a_taken_email_looks_the_same_signs_nobody_in_and_emails_the_owner(
    client, shopper
):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = register(client, email="ADA@Example.com")
    assert response.redirect_chain == [("/", 302)]
    assert messages_of(response) == ["Welcome! Your account ada@example.com is ready."]
    assert not response.context["user"].is_authenticated
    assert User.objects.count() == 1
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]


# --- Sign in and out ------------------------------------------------------------------------


def test_the_sign_in_page_asks_for_the_email(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert response.context["form"].fields["username"].label == "E-mail"
    assert 'type="email" name="username"' in response.content.decode()


def test_signing_in_shows_the_email_in_the_header(client, shopper):
    response = sign_in(client)
    assert response.redirect_chain == [("/", 302)]
    assert messages_of(response) == ["Signed in as ada@example.com."]
    assert '<span class="account-email" title="ada@example.com">' in response.content.decode()


def test_signing_in_returns_to_the_next_page(client, shopper):
    response = sign_in(client, next="/search/?q=kettle")
    assert response.redirect_chain == [("/search/?q=kettle", 302)]


def test_signing_in_with_a_wrong_password_is_vague(client, shopper):
    response = sign_in(client, password="wrong-password-1")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Invalid e-mail or password."]
    assert not response.context["user"].is_authenticated


def test_signing_out_ends_the_session(client, shopper):
    sign_in(client)
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert messages_of(response) == ["You have signed out."]
    assert not response.context["user"].is_authenticated
    assert client.get("/accounts/password/change/").status_code == 302


def test_signing_out_needs_a_post(client, shopper):
    client.force_login(shopper)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/accounts/password/change/").status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/accounts/login/", {"username": "ada@example.com", "password": PASSWORD}),
        ("/accounts/register/", {"email": "g@example.com", "password1": "x", "password2": "x"}),
        ("/accounts/password/reset/", {"email": "ada@example.com"}),
        ("/accounts/logout/", {}),
    ],
)
def test_forms_without_a_csrf_token_are_refused(shopper, path, body):
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, body)
    assert response.status_code == 403
    assert User.objects.count() == 1
    assert mail.outbox == []


def test_signing_in_with_a_csrf_token_from_the_form_works(shopper):
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    response = sign_in(client, csrfmiddlewaretoken=token)
    assert signed_in_email(response) == "ada@example.com"


# --- Passwords ------------------------------------------------------------------------------


def test_my_account_needs_signing_in(client):
    response = client.get("/accounts/password/change/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/password/change/"


def test_changing_the_password_keeps_the_shopper_signed_in(
    client, shopper, django_capture_on_commit_callbacks
):
    sign_in(client)
    body = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/change/", body)
    assert response["Location"] == "/accounts/password/change/done/"
    assert client.get("/accounts/password/change/done/").context["user"].email == shopper.email
    shopper.refresh_from_db()
    assert shopper.check_password(NEW_PASSWORD)


def test_resetting_the_password_by_the_emailed_link(client, shopper):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/accounts/password/reset/", {"email": "ada@example.com"}, follow=True
        )
    assert response.redirect_chain == [("/accounts/password/reset/done/", 302)]
    assert len(mail.outbox) == 1
    link = RESET_PATH.search(mail.outbox[0].body)["path"]
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"] is True
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert done.redirect_chain == [("/accounts/reset/done/", 302)]
    shopper.refresh_from_db()
    assert shopper.check_password(NEW_PASSWORD)


def test_resetting_the_password_of_an_unknown_email_looks_the_same_and_sends_nothing(client):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert mail.outbox == []


def test_a_bad_reset_link_says_so(client, shopper):
    response = client.get("/accounts/reset/MQ/bad-token/")
    assert response.status_code == 200
    assert response.context["validlink"] is False
    assert "This link no longer works" in response.content.decode()
