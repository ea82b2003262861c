"""Reset links and registration notes leave through the accounts' outbox, limited (#12)."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import Client, TestCase
from django.utils import timezone

from shop.accounts import tasks
from shop.accounts.models import OutgoingMail
from shop.accounts.tests.actions import JSONClient

pytestmark = pytest.mark.django_db

RESET = "/api/v1/auth/password/reset/"
ANSWER = {
    "detail": "If an account uses this address, we have e-mailed it a link to reset its password."
}


class FailingOnceBackend(EmailBackend):
    """The mail server refuses the first message it is given, then takes them (locmem)."""

    failures_left = 1

    def send_messages(self, messages):
        if FailingOnceBackend.failures_left:
            FailingOnceBackend.failures_left -= 1
            raise ConnectionRefusedError("the mail server is down")
        return super().send_messages(messages)


class FailingBackend(EmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


@pytest.fixture(autouse=True)
def _limits_as_designed(settings, time_machine):
    settings.RATELIMIT_SCALE = 1
    settings.SHOP_TRUSTED_PROXY_HEADER = ""
    time_machine.move_to(time.time(), tick=False)


def ask_reset(email: str, address: str = "10.0.0.1", **extra):
    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker runs after commit
        return JSONClient(REMOTE_ADDR=address).post(RESET, {"email": email}, **extra)


def test_the_6th_reset_for_one_email_is_a_429_and_sends_no_6th_email(shopper):
    for number in range(5):
        assert ask_reset("ada@example.com", address=f"10.0.0.{number}").status_code == 202
    assert len(mail.outbox) == 5

    response = ask_reset("ADA@example.com", address="10.0.0.99")

    assert response.status_code == 429
    assert response.json()["detail"].startswith(
        "Too many requests: at most 5 password resets for one e-mail address per hour."
    )
    assert len(mail.outbox) == 5
    assert OutgoingMail.objects.count() == 5


def test_the_6th_reset_from_one_address_is_a_429_whatever_the_email(shopper):
    for number in range(5):
        assert ask_reset(f"someone{number}@example.com").status_code == 202

    response = Client(REMOTE_ADDR="10.0.0.1").post(
        "/accounts/password/reset/", {"email": "ada@example.com"}
    )

    assert response.status_code == 429  # the storefront's form counts in the same allowance
    assert "at most 5 password resets from one address per hour" in response.content.decode()
    assert mail.outbox == []


def test_the_reset_link_starts_with_the_public_url_whatever_the_host_header(settings, shopper):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "evil.example"]
    settings.SHOP_PUBLIC_URL = "https://shop.example"

    response = ask_reset("ada@example.com", HTTP_HOST="evil.example:1337")

    assert response.status_code == 202
    [message] = mail.outbox
    [link] = [line for line in message.body.splitlines() if "/accounts/reset/" in line]
    assert link.startswith("https://shop.example/accounts/reset/")
    assert "evil.example" not in message.body


def test_an_unknown_email_gets_the_same_answer_and_a_row_but_no_email(shopper):
    known = ask_reset("ada@example.com")
    unknown = ask_reset("nobody@example.com")

    assert (
        (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, ANSWER)
    )
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert list(OutgoingMail.objects.values_list("email", flat=True)) == [
        "ada@example.com",
        "nobody@example.com",
    ]
    assert all(row.sent_at is not None for row in OutgoingMail.objects.all())


def test_no_secret_of_the_link_is_stored(shopper):
    ask_reset("ada@example.com")
    token = mail.outbox[0].body.split("/accounts/reset/")[1].split("/")[1]

    row = OutgoingMail.objects.values().get()

    assert token not in repr(row)


def test_a_mail_server_failure_keeps_the_answer_and_the_mail_is_sent_on_a_retry(settings, shopper):
    settings.EMAIL_BACKEND = f"{__name__}.FailingOnceBackend"
    FailingOnceBackend.failures_left = 1

    response = ask_reset("ada@example.com")

    assert (response.status_code, response.json()) == (202, ANSWER)
    assert mail.outbox == []
    row = OutgoingMail.objects.get()
    assert (row.attempts, row.sent_at, row.last_error) == (1, None, "the mail server is down")
    assert tasks.resend_mail_task.delay().get() == 0  # not due yet
    OutgoingMail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert tasks.resend_mail_task.delay().get() == 1

    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    row.refresh_from_db()
    assert (row.attempts, row.last_error) == (2, "")
    assert row.sent_at is not None
    assert tasks.resend_mail_task.delay().get() == 0


def test_a_mail_that_keeps_failing_is_parked_after_the_last_attempt(settings, shopper):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    settings.OUTBOX_MAX_ATTEMPTS = 2
    ask_reset("ada@example.com")
    OutgoingMail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert tasks.resend_mail_task.delay().get() == 1

    row = OutgoingMail.objects.get()
    assert row.attempts == 2
    assert row.parked_at is not None
    OutgoingMail.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.resend_mail_task.delay().get() == 0
    assert mail.outbox == []


def test_a_mail_whose_commit_send_was_lost_is_sent_by_the_beat_task(shopper):
    with TestCase.captureOnCommitCallbacks(execute=False):  # as if the broker was down
        JSONClient().post(RESET, {"email": "ada@example.com"})
    assert tasks.resend_mail_task.delay().get() == 0  # its own send gets a minute first
    OutgoingMail.objects.update(created_at=timezone.now() - timedelta(minutes=2))

    assert tasks.resend_mail_task.delay().get() == 1

    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert settings.SHOP_PUBLIC_URL in mail.outbox[0].body
