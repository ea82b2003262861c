"""One shopper's session, sign-in and cart stay whole while nginx spreads them over replicas."""

import uuid

import pytest

pytestmark = pytest.mark.cluster

CART_READS = 290


def _products_in_stock(shopper, count: int) -> list[int]:
    reply = shopper.get(f"/api/v1/products/?in_stock=true&page_size={count * 4}")
    assert reply.status == 200, reply.body
    products = [row["id"] for row in reply.json()["results"] if row["stock"] >= 3]
    assert len(products) >= count
    return products[:count]


def test_session_sign_in_and_cart_hold_over_300_requests_on_several_replicas(shopper):
    first, second = _products_in_stock(shopper, 2)
    # A guest's cart, then registration: it signs the session in and merges the guest cart.
    # One registration a run: the shop allows an address ten a day (RATELIMIT_REGISTRATION).
    added = shopper.post("/api/v1/cart/items/", {"product_id": first, "quantity": 1})
    assert added.status in (200, 201), added.body
    email = f"cluster-{uuid.uuid4().hex[:12]}@shop.test"
    registered = shopper.post(
        "/api/v1/auth/register/", {"email": email, "password": "a-Long-pass-phrase-42"}
    )
    assert registered.status == 201, registered.body
    assert shopper.cookie("sessionid")
    added = shopper.post("/api/v1/cart/items/", {"product_id": second, "quantity": 2})
    assert added.status in (200, 201), added.body

    upstreams, replica_names, wrong = set(), set(), []
    for number in range(CART_READS):
        if number % 10 == 0:
            me = shopper.get("/api/v1/auth/me/")
            if me.status != 200 or me.json()["email"] != email:
                wrong.append(("me", me.status, me.body[:200]))
        reply = shopper.get("/api/v1/cart/")
        upstreams.add(reply.headers["X-Upstream"])
        replica_names.add(reply.headers.get("X-Served-By"))
        lines = {line["product_id"]: line["quantity"] for line in reply.json()["items"]}
        if reply.status != 200 or lines != {first: 1, second: 2}:
            wrong.append(("cart", reply.status, reply.body[:200]))

    assert wrong == []
    assert len(upstreams) >= 2, upstreams
    if replica_names != {None}:  # the app names itself (X-Served-By) once observability is in
        assert len(replica_names) >= 2, replica_names
