from celery import shared_task

from carts.services import delete_idle_carts


@shared_task
def delete_idle_carts_task() -> int:
    return delete_idle_carts()
