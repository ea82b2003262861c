"""A per-endpoint limit through nginx: shared by the app replicas, not reset by forged headers."""

import pytest

from tests.cluster.shopper import Shopper

pytestmark = pytest.mark.cluster

SEARCH_LIMIT = 60  # per minute (DESIGN.md), counted in the cluster's Redis


def test_the_search_limit_holds_across_replicas_and_forged_forwarded_for():
    shopper = Shopper()
    replies = [
        # Each query is new (no micro-cache hit), each request claims another client address.
        shopper.get(f"/api/v1/search/?q=lamp{n}", headers={"X-Forwarded-For": f"203.0.113.{n}"})
        for n in range(130)
    ]
    served = [reply for reply in replies if reply.status == 200]
    limited = [reply for reply in replies if reply.status == 429]
    assert len(served) + len(limited) == len(replies)
    # At most one full window on each side of a window boundary: forged addresses earn nothing.
    assert len(served) <= 2 * SEARCH_LIMIT
    assert len(limited) >= len(replies) - 2 * SEARCH_LIMIT
    assert int(limited[0].headers["Retry-After"]) > 0
    assert limited[0].json()["code"] == "rate_limited"
    # The replicas share the count: refusals come from more than one of them.
    assert len({reply.headers["X-Served-By"] for reply in limited}) >= 2
