"""The accounts' outbox: e-mails written as rows in the request's transaction, sent by a worker.

Password reset links and "someone tried to register with your address" notes go this way
(issue 12): the request only writes a row, whatever the address, so its answer and its time do
not depend on the mail server or say whether an account exists. The worker looks the account up,
builds links from SHOP_PUBLIC_URL (never a request's Host) and sends. A failed send waits
OUTBOX_RETRY_SECONDS, doubled after each failure, and is parked after OUTBOX_MAX_ATTEMPTS, as
the orders' outbox does; the beat task `resend_mail_task` picks up what is due.
"""

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shop.accounts.models import OutgoingMail, User
from shop.outbox import due_rows, record_failure, start_attempt

log = logging.getLogger(__name__)

# Sent by name, as orders/outbox.py does: tasks.py imports this module.
SEND_TASK = "shop.accounts.tasks.send_mail_task"
REDELIVERY_DELAY = timedelta(seconds=60)  # a mail's own on-commit send gets this long first

# Per kind: the subject and body templates, rendered with the account and a link.
TEMPLATES = {
    OutgoingMail.Kind.PASSWORD_RESET: (
        "accounts/password_reset_subject.txt",
        "accounts/password_reset_email.txt",
    ),
    OutgoingMail.Kind.REGISTRATION_ATTEMPT: (
        "accounts/registration_attempt_subject.txt",
        "accounts/registration_attempt_email.txt",
    ),
}


def record_mail(*, kind: str, email: str) -> OutgoingMail:
    """Write an e-mail to send in the current transaction; queue it once that commits."""
    mail = OutgoingMail.objects.create(kind=kind, email=email)
    transaction.on_commit(lambda: queue_mail(mail.pk))
    return mail


def queue_mail(mail_pk: int) -> bool:
    """Queue a mail's sending (with no broker, send it here); False if that failed.

    Either way a mail not sent stays due and the redelivery task tries it again.
    """
    try:
        current_app.signature(SEND_TASK, args=(mail_pk,)).delay()
    except Exception as error:  # kombu raises its own OperationalError family, among others
        log.warning("mail %s not sent now, it will be retried: %s", mail_pk, error)
        return False
    return True


def send_mail(*, mail_pk: int) -> bool:
    """Send an outgoing mail unless sent or parked; return whether this call completed it.

    A failure is logged, counted and scheduled for a retry, and does not raise.
    """
    mail = _start_attempt(mail_pk=mail_pk)
    if mail is None:
        return False
    try:
        message = _compose(mail=mail)
        if message is not None:  # else no active account uses the address: nothing to send
            message.send()
    except Exception as error:
        _fail_attempt(mail=mail, error=error)
        return False
    OutgoingMail.objects.filter(pk=mail.pk).update(sent_at=timezone.now(), last_error="")
    return True


def unsent_mail(*, older_than: timedelta = REDELIVERY_DELAY, limit: int = 500) -> list[int]:
    """Return the pks of mail due for another attempt, oldest first; parked ones are not."""
    return due_rows(OutgoingMail.objects.all(), done="sent_at", older_than=older_than, limit=limit)


def _compose(*, mail: OutgoingMail) -> EmailMessage | None:
    # As Django's PasswordResetForm.get_users: an active account that can sign in by password.
    user = User.objects.filter(email=mail.email, is_active=True).first()
    if user is None or not user.has_usable_password():
        return None
    subject_template, body_template = TEMPLATES[OutgoingMail.Kind(mail.kind)]
    context = {"email": user.email, "sign_in_url": _public_url("accounts:login")}
    if mail.kind == OutgoingMail.Kind.PASSWORD_RESET:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        context["reset_url"] = _public_url("accounts:password_reset_confirm", uid, token)
    else:
        context["password_reset_url"] = _public_url("accounts:password_reset")
    subject = "".join(render_to_string(subject_template, context).splitlines())
    body = render_to_string(body_template, context)
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def _public_url(name: str, *args: str) -> str:
    return settings.SHOP_PUBLIC_URL + reverse(name, args=args)


def _start_attempt(*, mail_pk: int) -> OutgoingMail | None:
    """Count an attempt at a mail still to send, committed before it is sent."""
    return start_attempt(OutgoingMail.objects.all(), pk=mail_pk, done="sent_at")


def _fail_attempt(*, mail: OutgoingMail, error: Exception) -> None:
    """Record a failed attempt (retried later, or parked after the last) and log it."""
    outcome = record_failure(mail, error=error)
    log.error(
        "mail %s (%s) failed on attempt %s of %s, %s: %s",
        mail.pk,
        mail.kind,
        mail.attempts,
        settings.OUTBOX_MAX_ATTEMPTS,
        outcome,
        error,
        exc_info=True,
    )
