from celery import shared_task

from shop.accounts import outbox
from shop.accounts.tokens import delete_expired_tokens


@shared_task
def delete_expired_tokens_task() -> int:
    return delete_expired_tokens()


@shared_task
def send_mail_task(mail_pk: int) -> bool:
    return outbox.send_mail(mail_pk=mail_pk)


@shared_task
def resend_mail_task() -> int:
    """Queue again the mail due: on-commit send lost (broker down, worker died), or a retry."""
    pks = outbox.unsent_mail()
    for pk in pks:
        send_mail_task.delay(pk)
    return len(pks)
