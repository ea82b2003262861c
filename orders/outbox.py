"""The transactional outbox: events are rows written with the order, sent to Celery on commit.

If the broker is down at commit, the send fails quietly and the row stays undelivered; the beat
task `redeliver_events_task` sends it again. Handlers (orders/handlers.py) are idempotent.
"""

import logging

from celery import current_app
from django.db import transaction

from orders.models import Order, OutboxEvent

log = logging.getLogger(__name__)

# Sent by name: orders/tasks.py imports the services that import this module.
DELIVER_TASK = "orders.tasks.deliver_event_task"


def record_event(*, order: Order, kind: str) -> OutboxEvent:
    """Write an event in the current transaction; send it to a worker once that commits."""
    event = OutboxEvent.objects.create(order=order, kind=kind)
    transaction.on_commit(lambda: send_event(event.pk))
    return event


def send_event(event_pk: int) -> bool:
    """Queue an event's delivery; False if the broker is down (redelivery will retry)."""
    try:
        current_app.signature(DELIVER_TASK, args=(event_pk,)).delay()
    except Exception as error:  # kombu raises its own OperationalError family, among others
        log.warning("event %s not queued, the sweeper will retry: %s", event_pk, error)
        return False
    return True
