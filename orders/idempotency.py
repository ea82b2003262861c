"""`Idempotency-Key` for placing orders: one request per key and caller, replayed as it answered.

The key is claimed (a unique row) before any work. A replay with the same body gets the stored
response; with another body, a 422. A twin arriving while the first is still running waits for
its answer. A server error frees the key for a retry. Keys are kept IDEMPOTENCY_KEY_HOURS.
"""

import hashlib
import json
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
from orders.models import IdempotencyKey
from shop.exceptions import ShopError

WAIT_SECONDS = 15
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


def _valid(key: str) -> bool:
    return 1 <= len(key) <= 255 and key.isprintable()


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


def _answer_of_twin(record: IdempotencyKey) -> Answer:
    deadline = time.monotonic() + WAIT_SECONDS
    while record.response_status is None:
        if time.monotonic() > deadline:
            raise RequestInProgress()
        time.sleep(POLL_SECONDS)
        record = IdempotencyKey.objects.filter(pk=record.pk).first()
        if record is None:  # the first attempt failed with a server error: the key is free
            raise RequestInProgress("The first request with this key failed; send it again.")
    return record.response_status, record.response_body


def answer_once(
    *, scope: str | None, key: str | None, body: Any, act: Callable[[], tuple[Answer, Any]]
) -> Answer:
    """Return `act()`'s (status, body), running it at most once per `key` within `scope`.

    `act` returns ((status, body), order); a ShopError it raises is an answer too, and is kept.
    """
    if key is None or scope is None:
        return _answer(act)[0]
    if not _valid(key):
        raise IdempotencyKeyInvalid()
    digest = request_digest(body)
    record, claimed = _claim(scope=scope, key=key, digest=digest)
    if not claimed:
        if record.request_digest != digest:
            raise IdempotencyKeyReused()
        return _answer_of_twin(record)
    try:
        answer, order = _answer(act)
    except Exception:
        record.delete()  # a server error: let the client retry with the same key
        raise
    record.response_status, record.response_body = answer
    record.order = order
    record.save(update_fields=["response_status", "response_body", "order"])
    return answer


def _answer(act) -> tuple[Answer, Any]:
    try:
        return act()
    except ShopError as error:
        return (
            error.status_code,
            {"detail": error.detail, "code": error.code, **error.extra},
        ), None


def delete_old_keys() -> int:
    """Delete keys past their keeping time; return how many."""
    return IdempotencyKey.objects.filter(created_at__lt=_kept_since()).delete()[0]
