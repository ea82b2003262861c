from celery import shared_task

from shop.accounts.tokens import delete_expired_tokens


@shared_task
def delete_expired_tokens_task() -> int:
    return delete_expired_tokens()
