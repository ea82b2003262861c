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
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shop.accounts.models import OutgoingMail, User

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
    now = timezone.now()
    due = Q(next_attempt_at=None, created_at__lte=now - older_than) | Q(next_attempt_at__lte=now)
    return list(
        OutgoingMail.objects.filter(due, sent_at=None, parked_at=None)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


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


def _retry_delay(*, attempts: int) -> timedelta:
    return timedelta(seconds=settings.OUTBOX_RETRY_SECONDS * 2 ** (attempts - 1))


def _start_attempt(*, mail_pk: int) -> OutgoingMail | None:
    """Count an attempt at a mail still to send, committed before it is sent."""
    with transaction.atomic(durable=True):
        mail = OutgoingMail.objects.select_for_update().filter(pk=mail_pk).first()
        if mail is None or mail.sent_at is not None or mail.parked_at is not None:
            return None
        mail.attempts += 1
        # Also a lease: the redelivery task leaves the mail alone while this attempt runs.
        mail.next_attempt_at = timezone.now() + _retry_delay(attempts=mail.attempts)
        mail.save(update_fields=["attempts", "next_attempt_at"])
    return mail


def _fail_attempt(*, mail: OutgoingMail, error: Exception) -> None:
    """Record a failed attempt: retry later with a longer wait, or park after the last one."""
    now = timezone.now()
    parked = mail.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    wait = _retry_delay(attempts=mail.attempts)
    OutgoingMail.objects.filter(pk=mail.pk).update(
        last_error=str(error) or type(error).__name__,
        next_attempt_at=now + wait,
        parked_at=now if parked else None,
    )
    outcome = "parked" if parked else f"retried in {wait.total_seconds():.0f} s"
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
