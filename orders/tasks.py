from celery import shared_task

from orders import handlers, idempotency, services


@shared_task
def deliver_event_task(event_pk: int) -> bool:
    return handlers.deliver_event(event_pk=event_pk)


@shared_task
def redeliver_events_task() -> int:
    """Queue again the events due: on-commit send lost (broker down, worker died), or a retry."""
    pks = handlers.undelivered_events()
    for pk in pks:
        deliver_event_task.delay(pk)
    return len(pks)


@shared_task
def cancel_expired_orders_task() -> int:
    return services.cancel_expired_orders()


@shared_task
def reconcile_card_payments_task() -> int:
    """Refund or confirm card charges whose order never recorded them."""
    return services.reconcile_card_payments()


@shared_task
def delete_old_idempotency_keys_task() -> int:
    return idempotency.delete_old_keys()
