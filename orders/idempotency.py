"""`Idempotency-Key` for placing orders: one request per key and caller, replayed as it answered.

The key is claimed (a unique row) before any work. A replay with the same body gets the stored
response; with another body, a 422. A twin arriving while the first is still running waits for
its answer. A server error frees the key for a retry, unless an order was placed under it; a
request that died before its answer was kept is answered later from its order. Keys are kept
IDEMPOTENCY_KEY_HOURS.
"""

import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from orders.exceptions import (
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    RequestInProgress,
)
from orders.models import IdempotencyKey, Order
from shop.exceptions import ShopError

WAIT_SECONDS = 15
# A claim unanswered this long belongs to a process that died: no request lives longer
# (gunicorn kills a worker after 30 s).
ABANDONED_AFTER = timedelta(seconds=45)
POLL_SECONDS = 0.05
Answer = tuple[int, dict[str, Any]]


def idempotency_scope(request) -> str | None:
    """Whose keys these are: the account's, else the session's (no session yet: none).

    The storefront's checkout form and the API share it, so a key means one thing everywhere.
    """
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    key = request.session.session_key
    return f"session:{key}" if key else None


def request_digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# What a key may be: 1 to 255 printable ASCII characters. The API schema states the same pattern.
KEY_PATTERN = r"^[\x20-\x7E]{1,255}$"


def _valid(key: str) -> bool:
    return re.fullmatch(KEY_PATTERN, key) is not None


def _kept_since() -> Any:
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
        record = IdempotencyKey.objects.filter(pk=record.pk).first()
        if record is None:  # the first attempt failed with a server error: the key is free
            raise RequestInProgress("The first request with this key failed; send it again.")
    return record


def answer_once(
    *,
    scope: str | None,
    key: str | None,
    body: Any,
    place: Callable[[int | None], Order],
    answer_for: Callable[[Order], Answer],
) -> Answer:
    """Place an order at most once per `key` within `scope`, and answer every request with it.

    `place(claim)` places the order (recording it on the claimed key, `claim`, in the order's
    own transaction); `answer_for(order)` is the answer. A ShopError is an answer too, and kept.
    If the process dies before the answer is kept, a later request rebuilds it from the order,
    or, when no order was placed, takes the key over.
    """
    if key is None or scope is None:
        return _run(place, answer_for, claim=None)[0]
    if not _valid(key):
        raise IdempotencyKeyInvalid()
    digest = request_digest(body)
    record, claimed = _claim(scope=scope, key=key, digest=digest)
    if not claimed:
        if record.request_digest != digest:
            raise IdempotencyKeyReused()
        record = _wait_for_twin(record)
        if record.response_status is not None:
            return record.response_status, record.response_body
        if record.order is not None:  # placed, but its answer died with the process
            return _keep(record, answer_for(record.order), record.order)
        IdempotencyKey.objects.filter(pk=record.pk, response_status=None, order=None).delete()
        return answer_once(scope=scope, key=key, body=body, place=place, answer_for=answer_for)
    try:
        answer, order = _run(place, answer_for, claim=record.pk)
    except Exception:
        # A server error frees the key for a retry, unless an order was placed under it.
        IdempotencyKey.objects.filter(pk=record.pk, order=None).delete()
        raise
    return _keep(record, answer, order)


def _keep(record: IdempotencyKey, answer: Answer, order: Order | None) -> Answer:
    IdempotencyKey.objects.filter(pk=record.pk).update(
        response_status=answer[0], response_body=answer[1], order=order
    )
    return answer


def _run(place, answer_for, *, claim: int | None) -> tuple[Answer, Order | None]:
    try:
        order = place(claim)
    except ShopError as error:
        return (
            error.status_code,
            {"detail": error.detail, "code": error.code, **error.extra},
        ), None
    return answer_for(order), order


def delete_old_keys() -> int:
    """Delete keys past their keeping time; return how many."""
    return IdempotencyKey.objects.filter(created_at__lt=_kept_since()).delete()[0]
