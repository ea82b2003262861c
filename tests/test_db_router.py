"""The DB router with a real second connection standing in for a replica (same database)."""

import contextlib
import contextvars

import pytest
from django.core.cache import cache
from django.db import connections
from django.test.utils import CaptureQueriesContext

from catalog.tests.factories import ProductFactory
from shop import db_router

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica1"])


@pytest.fixture
def replica(postgres, settings):
    settings.DATABASE_REPLICA_ALIASES = ["replica1"]
    db_router._states.clear()
    yield "replica1"
    connections["replica1"].close()
    db_router._states.clear()


@pytest.fixture
def dead_replica(replica, monkeypatch):
    connection = connections[replica]
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")  # nothing listens there
    yield replica
    connection.close()


def _fresh(function, *args):
    """Run outside any request's state, as a new request would."""
    return contextvars.Context().run(function, *args)


def _queries(alias: str, request) -> int:
    with CaptureQueriesContext(connections[alias]) as captured:
        request()
    return len([q for q in captured.captured_queries if "pg_last_wal" not in q["sql"]])


def test_anonymous_catalog_listings_read_the_replica(replica, client):
    ProductFactory(slug="lamp")
    with CaptureQueriesContext(connections["default"]) as primary:
        replica_reads = _queries(replica, lambda: client.get("/api/v1/products/?ordering=price"))
    assert replica_reads == 3  # the category tree, count and page
    assert len(primary) == 0


def test_price_and_stock_are_read_from_the_primary(replica, client):
    # A replica still behind could cache the stock an order just took (the offer's TTL long).
    ProductFactory(slug="lamp")
    with CaptureQueriesContext(connections["default"]) as primary:
        replica_reads = _queries(replica, lambda: client.get("/api/v1/products/lamp/"))
    assert replica_reads == 2  # the product and the category tree
    assert ["catalog_product" in query["sql"] for query in primary.captured_queries] == [True]


def test_reads_inside_a_transaction_go_to_the_primary(replica):
    from django.db import transaction

    from catalog.models import Product

    ProductFactory()
    with transaction.atomic():
        assert _fresh(db_router.choose_read_alias, Product) == ("default", "transaction")
    assert _fresh(db_router.choose_read_alias, Product) == ("replica1", "replica")


def test_sessions_carts_and_orders_always_read_the_primary(replica):
    from django.contrib.sessions.models import Session

    from carts.models import Cart
    from orders.models import Order

    for model in (Session, Cart, Order):
        assert _fresh(db_router.choose_read_alias, model) == ("default", "primary_app")


def test_a_client_that_wrote_reads_from_the_primary_for_a_while(replica, client, settings):
    ProductFactory(slug="lamp", stock=5)
    response = client.post("/cart/add/", {"product_id": "1", "quantity": "1"})
    assert db_router.COOKIE in response.cookies
    assert response.cookies[db_router.COOKIE]["max-age"] == settings.READ_YOUR_WRITES_SECONDS
    assert _queries(replica, lambda: client.get("/api/v1/products/lamp/")) == 0
    client.cookies.pop(db_router.COOKIE)
    assert _queries(replica, lambda: client.get("/api/v1/products/?page=1")) >= 1


def test_a_forged_read_your_writes_cookie_is_ignored(replica, client):
    ProductFactory(slug="lamp")
    client.cookies[db_router.COOKIE] = "1"  # not signed
    assert _queries(replica, lambda: client.get("/api/v1/products/lamp/")) >= 1


def test_an_unreachable_replica_is_skipped_without_an_error(dead_replica, client):
    ProductFactory(slug="lamp", title="Brass Lamp")
    response = client.get("/api/v1/products/lamp/")
    assert response.status_code == 200
    assert response.json()["title"] == "Brass Lamp"
    state = db_router.replica_states()[dead_replica]
    assert state.healthy is False
    assert state.last_error == "unreachable: OperationalError"


def test_readyz_reports_a_skipped_replica_and_stays_ready(dead_replica, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["replica1"] == "down"


def test_a_lagging_replica_is_skipped(replica, monkeypatch, settings):
    from catalog.models import Product

    monkeypatch.setattr(db_router, "LAG_SQL", "SELECT 30.0")  # as if 30 s of WAL were unreplayed
    assert _fresh(db_router.choose_read_alias, Product) == ("default", "replica_unavailable")
    assert db_router.replica_states()[replica].last_error == "lagging 30.0s"


def test_a_replica_that_recovers_serves_reads_again(replica, settings, monkeypatch):
    from catalog.models import Product

    monkeypatch.setattr(db_router, "LAG_SQL", "SELECT 30.0")
    assert _fresh(db_router.choose_read_alias, Product)[0] == "default"
    monkeypatch.setattr(db_router, "LAG_SQL", "SELECT 0.0")
    state = db_router.replica_states()[replica]
    state.retry_at = 0  # its retry time has come
    state.lag_checked_at = 0
    assert _fresh(db_router.choose_read_alias, Product) == ("replica1", "replica")


def _catalog_reads(client, url: str) -> tuple[int, int]:
    """Return (primary, replica) catalog queries made by a fresh request for `url`."""
    with CaptureQueriesContext(connections["default"]) as primary:
        replica_reads = _queries("replica1", lambda: client.get(url))
    return len([q for q in primary.captured_queries if "catalog_" in q["sql"]]), replica_reads


def test_a_product_created_by_an_operator_is_read_from_the_primary_at_once(replica, client):
    # A replica still behind would not have it yet: its page would be a cached 404 (issue 11).
    product = ProductFactory.build(slug="new-lamp", category=ProductFactory().category)
    from catalog.services import save_product

    save_product(product=product)  # commits: transaction=True test
    primary, replica_reads = _catalog_reads(client, "/api/v1/products/new-lamp/")
    # The product (its offer with it) and the category tree, both from the primary.
    assert (primary, replica_reads) == (2, 0)


def test_catalog_reads_return_to_the_replica_once_it_has_caught_up(replica, client, monkeypatch):
    from catalog import cache as catalog_cache
    from catalog.services import save_product

    product = ProductFactory(slug="lamp")
    product.title = "Renamed"
    save_product(product=product, fields=["title"])
    monkeypatch.setattr(catalog_cache, "_just_written", lambda: False)  # the window has passed
    assert _catalog_reads(client, "/api/v1/products/?ordering=price") == (0, 3)


def test_routing_choices_and_replica_health_reach_the_metrics(dead_replica, client):
    client.get("/api/v1/categories/")
    metrics = client.get("/metrics").content.decode()
    assert 'shop_db_replica_up{alias="replica1"} 0.0' in metrics
    assert 'shop_db_route_total{alias="default",reason="replica_unavailable"}' in metrics


def test_a_replica_failing_under_a_read_is_replaced_by_the_primary(replica, client):
    import time

    from django.db import OperationalError

    ProductFactory(slug="lamp", title="Brass Lamp")
    _fresh(db_router.choose_read_alias)  # connect, and check its lag now, so the read goes there
    db_router.replica_states()[replica].lag_checked_at = time.monotonic()

    def server_gone(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    with connections[replica].execute_wrapper(server_gone):
        response = client.get("/api/v1/products/?ordering=price")
    assert response.status_code == 200
    assert [p["title"] for p in response.json()["results"]] == ["Brass Lamp"]
    assert db_router.replica_states()[replica].last_error == "failed during a read"


def test_a_skipped_replica_is_not_tried_again_before_its_retry_time(replica, monkeypatch):
    from catalog.models import Product

    monkeypatch.setattr(db_router, "LAG_SQL", "SELECT 30.0")
    assert _fresh(db_router.choose_read_alias, Product)[0] == "default"
    monkeypatch.setattr(db_router, "LAG_SQL", "SELECT 0.0")  # caught up, but not yet retried
    db_router.replica_states()[replica].lag_checked_at = 0
    assert _fresh(db_router.choose_read_alias, Product) == ("default", "replica_unavailable")


def test_a_get_that_writes_sends_its_client_to_the_primary_for_a_while(client, operator):
    import time

    from django.conf import settings
    from django.contrib.sessions.backends.cached_db import SessionStore

    from shop.middleware import SEEN_KEY

    client.force_login(operator)
    session = SessionStore(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)
    session[SEEN_KEY] = int(time.time())
    session.save()
    assert db_router.COOKIE not in client.get("/healthz").cookies  # renewed just now: no write
    session[SEEN_KEY] = int(time.time()) - settings.SESSION_KEEPALIVE_SECONDS
    session.save()
    response = client.get("/healthz")  # renews the session: a write
    assert db_router.COOKIE in response.cookies


@contextlib.contextmanager
def _primary_away():
    """The primary refuses connections (a failover under way); the replica still serves."""
    connection = connections["default"]
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"  # nothing listens there
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port


def test_a_product_page_is_served_from_a_replica_while_the_primary_is_away(replica, client):
    from catalog import cache as catalog_cache

    product = ProductFactory(slug="lamp", title="Brass Lamp", stock=7)
    with _primary_away():
        response = client.get("/api/v1/products/lamp/")
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["stock"]) == ("Brass Lamp", 7)
    # Read behind the primary's back: kept only until a replica would have caught up.
    offer_key = catalog_cache.offer_keys(pks=[product.pk])[product.pk]
    assert 0 < cache.ttl(offer_key) <= db_router.replica_catch_up_seconds() + 1


def test_a_listing_just_written_is_served_from_a_replica_while_the_primary_is_away(replica, client):
    from catalog.services import save_product

    product = ProductFactory(slug="lamp")
    product.title = "Renamed lamp"
    save_product(product=product, fields=["title"])  # its listings now read the primary
    with _primary_away():
        response = client.get("/api/v1/products/?ordering=price")
    assert response.status_code == 200
    assert [p["title"] for p in response.json()["results"]] == ["Renamed lamp"]


def test_with_no_replica_either_a_product_page_answers_503(dead_replica, client):
    ProductFactory(slug="lamp")
    with _primary_away():
        response = client.get("/api/v1/products/lamp/")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
