"""What the shop's transactional outboxes share: the orders' events (orders/outbox.py) and the
accounts' mail (shop/accounts/outbox.py) are DeliveryAttempts rows (`attempts`,
`next_attempt_at`, `parked_at`, `last_error`), delivered by the same rules, written once here:

- an attempt is counted, and leased until its retry time, in a commit of its own before any of
  its work runs, so a worker that dies mid-way leaves a count and a time to try again;
- a failed attempt waits OUTBOX_RETRY_SECONDS, doubled after each failure, and is parked for an
  operator after OUTBOX_MAX_ATTEMPTS;
- a row never attempted is due a little after it was written (its own on-commit send first).
"""

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone


class DeliveryAttempts(models.Model):
    """The delivery state every outbox row carries, which the functions below keep."""

    attempts = models.PositiveIntegerField(default=0)
    # Not before: redelivery leaves the row alone until then (empty: never attempted).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    parked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True


def retry_delay(*, attempts: int) -> timedelta:
    """Return how long a row waits after its `attempts`-th failed attempt: doubling each time."""
    return timedelta(seconds=settings.OUTBOX_RETRY_SECONDS * 2 ** (attempts - 1))


def start_attempt(rows: QuerySet, *, pk: int, done: str) -> Model | None:
    """Count an attempt at the row `pk` of `rows` unless it is `done` (a time set) or parked.

    Returns the row, or None when there is nothing to do. The count commits before the caller's
    work, and `next_attempt_at` doubles as a lease: redelivery leaves the row alone till then.
    """
    with transaction.atomic(durable=True):
        row = rows.select_for_update().filter(pk=pk).first()
        if row is None or getattr(row, done) is not None or row.parked_at is not None:
            return None
        row.attempts += 1
        row.next_attempt_at = timezone.now() + retry_delay(attempts=row.attempts)
        row.save(update_fields=["attempts", "next_attempt_at"])
    return row


def record_failure(row: Model, *, error: Exception) -> str:
    """Record a failed attempt: retry later with a longer wait, or park after the last one.

    Returns what happens next, for the caller's log line: "parked" or "retried in N s".
    """
    now = timezone.now()
    parked = row.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    wait = retry_delay(attempts=row.attempts)
    type(row).objects.filter(pk=row.pk).update(
        last_error=str(error) or type(error).__name__,
        next_attempt_at=now + wait,
        parked_at=now if parked else None,
    )
    return "parked" if parked else f"retried in {wait.total_seconds():.0f} s"


def due_rows(rows: QuerySet, *, done: str, older_than: timedelta, limit: int) -> list[int]:
    """Return the pks of `rows` due for another attempt, oldest first; done and parked ones not.

    A row never attempted is due `older_than` after it was written; one that failed is due at
    its `next_attempt_at`.
    """
    now = timezone.now()
    due = Q(next_attempt_at=None, created_at__lte=now - older_than) | Q(next_attempt_at__lte=now)
    return list(
        rows.filter(due, **{done: None}, parked_at=None)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
