"""`Idempotency-Key` for placing orders: one request per key and customer, replayed as answered.

The key is claimed (a unique row) before any work. A replay with the same order details gets
the stored answer; with other details, a 422. A twin arriving while the first is still running
waits for its answer. A server error frees the key for a retry, unless an order was placed under
it; a request that died before its answer was kept is answered later from its order. Keys are
kept IDEMPOTENCY_KEY_HOURS. `place_order_once` (orders/services.py) runs these steps.
"""

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from orders.exceptions import (
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    RequestInProgress,
)
from orders.models import IdempotencyKey, Order
from shop.customers import Customer

WAIT_SECONDS = 15
# A claim unanswered this long belongs to a process that died: no request lives longer
# (gunicorn kills a worker after 30 s).
ABANDONED_AFTER = timedelta(seconds=45)
POLL_SECONDS = 0.05
# What a key may be: 1 to 255 printable ASCII characters. The API schema states the same pattern.
KEY_PATTERN = r"^[\x20-\x7E]{1,255}$"


@dataclass(frozen=True)
class Answer:
    """What every request with one key is answered: an HTTP status and its JSON body."""

    status: int
    body: dict[str, Any]

    @property
    def placed(self) -> bool:
        return self.status == 201


@dataclass(frozen=True)
class Claim:
    """A key as this request found it: claimed for it, or used by a twin with the same request.

    A twin's use is its answer, or (it died before answering) the order it placed; a claim with
    neither is this request's to place the order under.
    """

    pk: int
    answer: Answer | None = None
    order: Order | None = None


def key_scope(*, customer: Customer) -> str | None:
    """Return whose keys these are: the account's, else the session's (no session yet: none).

    The storefront's checkout form and the API share it, so a key means one thing everywhere.
    """
    if not customer.is_guest:
        return f"user:{customer.user_pk}"
    key = customer.session.session_key if customer.session is not None else None
    return f"session:{key}" if key else None


# Marks a fingerprint of the normalised order details (issue 14). Keys claimed before it, whose
# fingerprint hashed the request differently, replay their answer rather than refuse a retry
# of an order the client was told about; they are gone IDEMPOTENCY_KEY_HOURS later.
DIGEST_FORMAT = "2:"


def request_digest(*, body: Any) -> str:
    """Return the fingerprint a key's request is recognised by."""
    canonical = json.dumps(body, sort_keys=True, default=str).encode()
    return DIGEST_FORMAT + hashlib.blake2b(canonical, digest_size=31).hexdigest()


def _same_request(*, stored: str, digest: str) -> bool:
    return stored == digest or not stored.startswith(DIGEST_FORMAT)


def claim_key(*, scope: str, key: str, digest: str) -> Claim:
    """Claim the key for this request, or return how a twin with the same digest used it.

    Raises IdempotencyKeyInvalid for a malformed key, IdempotencyKeyReused for one used with
    another digest, RequestInProgress while the twin is still running.
    """
    if re.fullmatch(KEY_PATTERN, key) is None:
        raise IdempotencyKeyInvalid()
    while True:
        record, claimed = _claim(scope=scope, key=key, digest=digest)
        if claimed:
            return Claim(pk=record.pk)
        if not _same_request(stored=record.request_digest, digest=digest):
            raise IdempotencyKeyReused()
        record = _wait_for_twin(record)
        if record.response_status is not None:
            answer = Answer(record.response_status, record.response_body or {})
            return Claim(pk=record.pk, answer=answer)
        if record.order is not None:
            return Claim(pk=record.pk, order=record.order)
        # Abandoned by a process that died before placing anything: the key is taken over.
        IdempotencyKey.objects.filter(pk=record.pk, response_status=None, order=None).delete()


def keep_answer(*, claim: Claim, answer: Answer, order: Order | None) -> Answer:
    """Keep the answer (and the order, if one was placed) on the key; return the answer."""
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        response_status=answer.status, response_body=answer.body, order=order
    )
    return answer


def release_claim(*, claim: Claim) -> None:
    """Free the key for a retry after a server error, unless an order was placed under it."""
    IdempotencyKey.objects.filter(pk=claim.pk, order=None).delete()


def delete_old_keys() -> int:
    """Delete keys past their keeping time; return how many."""
    return IdempotencyKey.objects.filter(created_at__lt=_kept_since()).delete()[0]


def _kept_since() -> datetime:
    return timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)


def _claim(*, scope: str, key: str, digest: str) -> tuple[IdempotencyKey, bool]:
    """Claim the key; one past its keeping time (not yet swept) is forgotten and claimed anew."""
    record, claimed = IdempotencyKey.objects.get_or_create(
        scope=scope, key=key, defaults={"request_digest": digest}
    )
    if not claimed and record.created_at < _kept_since():
        IdempotencyKey.objects.filter(pk=record.pk).delete()
        return _claim(scope=scope, key=key, digest=digest)
    return record, claimed


def _wait_for_twin(record: IdempotencyKey) -> IdempotencyKey:
    """Wait for the first request with this key to answer; return its record answered or,
    when that request died (no answer after ABANDONED_AFTER), abandoned."""
    deadline = time.monotonic() + WAIT_SECONDS
    while record.response_status is None and timezone.now() - record.created_at < ABANDONED_AFTER:
        if time.monotonic() > deadline:
            raise RequestInProgress()
        time.sleep(POLL_SECONDS)
        found = IdempotencyKey.objects.filter(pk=record.pk).first()
        if found is None:  # the first attempt failed with a server error: the key is free
            raise RequestInProgress("The first request with this key failed; send it again.")
        record = found
    return record
