"""The transactional outbox: events are rows written with the order, sent to Celery on commit.

If the broker is down at commit, the send fails quietly and the row stays undelivered; the beat
task `redeliver_events_task` sends it again. Handlers (orders/handlers.py) are idempotent, retry
a failing event with a growing wait and park it after OUTBOX_MAX_ATTEMPTS; an operator retries
a parked one from the admin (`retry_parked_event`).
"""

import logging

from celery import current_app
from django.db import transaction
from django.utils import timezone

from orders.models import Order, OutboxEvent

log = logging.getLogger(__name__)

# Sent by name: orders/tasks.py imports the services that import this module.
DELIVER_TASK = "orders.tasks.deliver_event_task"


def record_event(*, order: Order, kind: str) -> OutboxEvent:
    """Write an event in the current transaction; send it to a worker once that commits."""
    event = OutboxEvent.objects.create(order=order, kind=kind)
    transaction.on_commit(lambda: send_event(event_pk=event.pk))
    return event


def send_event(*, event_pk: int) -> bool:
    """Queue an event's delivery (with no broker, run it here); False if that failed.

    Either way the event stays undelivered and the redelivery sweeper tries it again.
    """
    try:
        current_app.signature(DELIVER_TASK, args=(event_pk,)).delay()
    except Exception as error:  # kombu raises its own OperationalError family, among others
        if current_app.conf.task_always_eager:  # no broker: the delivery itself ran, and failed
            log.exception("event %s failed inline, the sweeper will retry: %s", event_pk, error)
        else:
            log.warning("event %s not queued, the sweeper will retry: %s", event_pk, error)
        return False
    return True


@transaction.atomic(durable=True)
def retry_parked_event(*, event_pk: int) -> bool:
    """Un-park an event and queue its delivery now; False if it was not parked."""
    retried = OutboxEvent.objects.filter(
        pk=event_pk, parked_at__isnull=False, delivered_at=None
    ).update(parked_at=None, next_attempt_at=timezone.now())
    if retried:
        transaction.on_commit(lambda: send_event(event_pk=event_pk))
    return bool(retried)
