"""The read replica through the real cluster: read-your-writes while it lags, and its loss."""

import contextlib
import subprocess
import time
import uuid

import pytest

from cluster import cluster
from orders.tests.actions import order_body
from tests.cluster.shopper import Shopper, cluster_command

PSQL = ["psql", "-X", "-q", "-At", "-h", cluster.HOST, "-U", cluster.DB_USER, "-d", cluster.DB_NAME]
PRIMARY_PORT, REPLICA_PORT = str(cluster.PRIMARY_PORT), str(cluster.REPLICA_PORT)
REPLICA_DATA = cluster.REPLICA_DATA

pytestmark = pytest.mark.cluster


def _sql(port: str, sql: str) -> str:
    return subprocess.run(
        [*PSQL, "-p", port, "-c", sql], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def _product_in_stock(shopper: Shopper) -> dict:
    page = shopper.get("/api/v1/products/?in_stock=true&ordering=-price&page_size=1").json()
    return page["results"][0]


@contextlib.contextmanager
def replay_paused():
    _sql(REPLICA_PORT, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        _sql(REPLICA_PORT, "SELECT pg_wal_replay_resume()")


def test_a_client_reads_its_own_writes_while_the_replica_lags():
    writer, anonymous = Shopper(), Shopper()
    product = _product_in_stock(writer)
    slug = product["slug"]
    # The baseline from the primary itself: anonymous reads may come from nginx's micro-cache.
    stock = int(_sql(PRIMARY_PORT, f"SELECT stock FROM catalog_product WHERE id = {product['id']}"))
    with replay_paused():
        added = writer.post("/api/v1/cart/items/", {"product_id": product["id"], "quantity": 1})
        assert added.status == 200
        assert writer.get("/api/v1/cart/").json()["item_count"] == 1
        placed = writer.post("/api/v1/orders/", order_body(method="cod"))
        assert placed.status == 201, placed.json()
        number = placed.json()["number"]
        assert writer.get(f"/api/v1/orders/{number}/").json()["status"] == "pending_payment"
        detail = writer.get(f"/api/v1/products/{slug}/").json()
        assert detail["stock"] == stock - 1  # the primary's stock, not the replica's
        assert _sql(REPLICA_PORT, "SELECT pg_is_wal_replay_paused()") == "t"
        # An anonymous shopper may be served by the stale replica; it is served, either way.
        assert anonymous.get(f"/api/v1/products/{slug}/").status == 200


def test_a_product_an_operator_creates_is_served_at_once_while_the_replica_lags():
    operator, anonymous = Shopper(), Shopper()
    slug = f"fresh-lamp-{uuid.uuid4().hex[:8]}"
    category = _product_in_stock(anonymous)["category"]["slug"]
    category_pk = _sql(PRIMARY_PORT, f"SELECT id FROM catalog_category WHERE slug = '{category}'")
    assert anonymous.get(f"/api/v1/products/{slug}/").status == 404  # asked for before it exists
    with replay_paused():
        signed_in = operator.post_form(
            "/admin/login/?next=/admin/",
            {"username": "admin@shop.local", "password": "shop-admin-demo"},
        )
        assert signed_in.status == 302
        assert operator.cookie("sessionid")
        fields = {
            "title": "Fresh Brass Lamp",
            "slug": slug,
            "sku": slug.upper()[:32],
            "category": category_pk,
            "price": "49.00",
            "currency": "USD",
            "stock": "7",
            "initial-stock": "0",
            "attributes": "{}",
            "is_active": "on",
            "_save": "Save",
        }
        saved = operator.post_form("/admin/catalog/product/add/", fields)
        assert saved.status == 302, saved.body[-2000:]  # to the product list; a refusal is a 200
        count = f"SELECT count(*) FROM catalog_product WHERE slug = '{slug}'"
        assert (_sql(PRIMARY_PORT, count), _sql(REPLICA_PORT, count)) == ("1", "0")
        page = anonymous.get(f"/api/v1/products/{slug}/")
        assert page.status == 200, page.body[:200]
        assert page.json()["stock"] == 7
        # A URL nginx has not micro-cached (an anonymous listing may be up to 5 s old there).
        listing = f"/api/v1/products/?category={category}&ordering=newest&probe={slug}"
        newest = anonymous.get(listing).json()
        assert newest["results"][0]["slug"] == slug


def _stop_replica() -> None:
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(cluster.pg("pg_ctl")),
            "-D",
            str(REPLICA_DATA),
            "stop",
            "-m",
            "fast",
            "-w",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )


def test_reads_survive_the_replica_stopping_and_return_to_it():
    shopper = Shopper()
    _stop_replica()
    try:
        statuses = {
            shopper.get(f"/api/v1/products/?page={n % 5 + 1}&page_size=7").status for n in range(60)
        }
        assert statuses == {200}
        checks = shopper.get("/readyz").json()["checks"]
        assert checks["database"] == "ok"
        assert checks["replica1"] == "down"
    finally:
        assert cluster_command("up").returncode == 0
    deadline = time.monotonic() + 60
    while shopper.get("/readyz").json()["checks"]["replica1"] != "ok":
        assert time.monotonic() < deadline, "reads did not return to the replica in 60 s"
        time.sleep(1)
