"""Failed password checks are limited everywhere a password or reset token is checked (#12).

Only failures count, per address, per account and address, and per account from anywhere:
an attacker can neither guess on nor lock the owner out from elsewhere.
"""

import threading
import time

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import connections
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shop.accounts.tests.actions import JSONClient
from shop.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture(autouse=True)
def _limits_as_designed(settings, time_machine):
    """The shipped limits (the suite scales them up), on a clock stopped mid-window."""
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_SCALE = 1
    settings.SHOP_TRUSTED_PROXY_HEADER = ""
    time_machine.move_to(time.time(), tick=False)


def login(email: str, password: str, address: str = "10.0.0.1"):
    body = {"email": email, "password": password}
    return JSONClient(REMOTE_ADDR=address).post("/api/v1/auth/login/", body)


def assert_limited_page(response, message: str) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 15 * 60
    assert f"at most {message}" in response.content.decode()


# --- The admin --------------------------------------------------------------------------


def test_wrong_admin_passwords_are_refused_well_before_25_and_then_so_is_the_right_one(operator):
    client = Client()
    answers = [
        client.post("/admin/login/", {"username": "ops@shop.test", "password": f"guess-{n}"})
        for n in range(25)
    ]
    assert [answer.status_code for answer in answers] == [200] * 5 + [429] * 20

    right = client.post(
        "/admin/login/?next=/admin/", {"username": "ops@shop.test", "password": "pw-ops-1"}
    )

    assert_limited_page(right, "5 failed password attempts from one address per 15 minutes")
    assert client.get("/admin/")["Location"].startswith("/admin/login/")  # not signed in


def test_the_admin_password_change_counts_wrong_old_passwords(operator_client, operator):
    for number in range(5):
        body = {
            "old_password": f"guess-{number}",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
        assert operator_client.post("/admin/password_change/", body).status_code == 200

    body = {
        "old_password": "pw-ops-1",
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    response = operator_client.post("/admin/password_change/", body)

    assert response.status_code == 429
    operator.refresh_from_db()
    assert operator.check_password("pw-ops-1")


def test_opening_the_admin_sign_in_page_counts_nothing(operator):
    client = Client()
    for _ in range(10):
        assert client.get("/admin/login/").status_code == 200

    body = {"username": "ops@shop.test", "password": "pw-ops-1"}
    assert client.post("/admin/login/", body).status_code == 302


# --- Password change and reset links ------------------------------------------------------


def test_the_storefront_password_change_counts_wrong_old_passwords(client, shopper):
    client.force_login(shopper)
    for number in range(5):
        body = {
            "old_password": f"guess-{number}",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
        assert client.post("/accounts/password/change/", body).status_code == 200

    body = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    response = client.post("/accounts/password/change/", body)

    assert_limited_page(response, "5 failed password attempts from one address per 15 minutes")
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)


def test_the_api_password_change_counts_wrong_old_passwords(api_client, shopper):
    api_client.force_authenticate(shopper)
    for number in range(5):
        body = {"old_password": f"guess-{number}", "new_password": NEW_PASSWORD}
        assert api_client.post("/api/v1/auth/password/change/", body).status_code == 400

    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = api_client.post("/api/v1/auth/password/change/", body)

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)


def test_guessing_an_api_reset_token_is_limited_even_for_the_right_one(api_client, shopper):
    uid = urlsafe_base64_encode(force_bytes(shopper.pk))
    for number in range(5):
        body = {"uid": uid, "token": f"guess-{number}", "new_password": NEW_PASSWORD}
        assert api_client.post("/api/v1/auth/password/reset/confirm/", body).status_code == 400

    body = {
        "uid": uid,
        "token": default_token_generator.make_token(shopper),
        "new_password": NEW_PASSWORD,
    }
    response = api_client.post("/api/v1/auth/password/reset/confirm/", body)

    assert response.status_code == 429
    shopper.refresh_from_db()
    assert shopper.check_password(PASSWORD)


def test_guessing_a_storefront_reset_link_is_limited_even_for_the_right_one(client, shopper):
    uid = urlsafe_base64_encode(force_bytes(shopper.pk))
    for number in range(5):
        page = client.get(f"/accounts/reset/{uid}/guess-{number}/")
        assert page.context["validlink"] is False

    token = default_token_generator.make_token(shopper)
    response = client.get(f"/accounts/reset/{uid}/{token}/")

    assert_limited_page(response, "5 failed password attempts from one address per 15 minutes")


def test_a_right_reset_link_costs_nothing_of_the_allowance(client, shopper):
    uid = urlsafe_base64_encode(force_bytes(shopper.pk))
    for _ in range(6):  # open the link, show the form, refuse a weak password: all not failures
        token = default_token_generator.make_token(shopper)
        form = client.get(f"/accounts/reset/{uid}/{token}/", follow=True)
        assert form.context["validlink"] is True

    assert login("ada@example.com", PASSWORD, address="127.0.0.1").status_code == 200


# --- Only failures count, and the owner keeps their budget ----------------------------------


@pytest.mark.slow
def test_an_attacker_guessing_from_one_address_does_not_lock_the_owner_out_of_another(shopper):
    answers = [login("ada@example.com", f"guess-{n}", address="203.0.113.66") for n in range(8)]
    assert [answer.status_code for answer in answers] == [400] * 5 + [429] * 3
    assert answers[0].json() == {
        "detail": "Invalid e-mail or password.",
        "code": "invalid_credentials",
    }

    at_home = login("ada@example.com", PASSWORD, address="198.51.100.7")

    assert at_home.status_code == 200
    assert "token" in at_home.json()
    storefront = Client(REMOTE_ADDR="198.51.100.7").post(
        "/accounts/login/", {"username": "ada@example.com", "password": PASSWORD}
    )
    assert storefront.status_code == 302


def test_successful_sign_ins_never_lead_to_a_429(shopper):
    storefront = Client()
    for number in range(20):
        if number % 2:
            assert login("ada@example.com", PASSWORD, address="127.0.0.1").status_code == 200
        else:
            body = {"username": "ada@example.com", "password": PASSWORD}
            assert storefront.post("/accounts/login/", body).status_code == 302

    for number in range(5):  # and the failures after them still have their whole allowance
        assert login("ada@example.com", f"guess-{number}", address="127.0.0.1").status_code == 400
    assert login("ada@example.com", PASSWORD, address="127.0.0.1").status_code == 429


@pytest.mark.slow
def test_the_account_backstop_refuses_after_100_failures_from_many_addresses(shopper):
    for number in range(100):
        address = f"10.{number // 4}.0.{number % 4}"  # never 5 failures from one address
        assert login("ada@example.com", f"guess-{number}", address=address).status_code == 400

    response = login("ada@example.com", PASSWORD, address="198.51.100.7")

    assert response.status_code == 429
    assert response.json()["detail"].startswith(
        "Too many requests: at most 100 failed password attempts for one account per hour."
    )
    assert login("grace@example.com", PASSWORD, address="198.51.100.7").status_code == 400


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_guesses_get_five_checks_and_the_owner_still_signs_in(redis_cache, shopper):
    start = threading.Barrier(53)
    guesses: list[int] = []
    owner: list[int] = []

    def send(answers: list[int], password: str, address: str) -> None:
        try:
            start.wait()
            answers.append(login("ada@example.com", password, address=address).status_code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=send, args=(guesses, f"guess-{n}", "203.0.113.66"))
        for n in range(50)
    ] + [threading.Thread(target=send, args=(owner, PASSWORD, "198.51.100.7")) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(guesses) == [400] * 5 + [429] * 45
    # A check in progress holds its place: at most 5 at once from one address, even right ones.
    assert owner == [200] * 3
