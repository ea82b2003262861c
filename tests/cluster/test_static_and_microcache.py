"""nginx serves files from disk like a CDN, and micro-caches anonymous catalog reads only."""

import time
import uuid

import pytest

from cluster.cluster import STATE
from tests.cluster.shopper import Shopper

pytestmark = pytest.mark.cluster

STYLESHEET = "/static/admin/css/base.css"  # collected by every cluster start
THIRTY_DAYS = 30 * 24 * 60 * 60


def _unseen(path: str) -> str:
    """Return path with a query nobody has asked for, so the micro-cache has no copy of it."""
    return f"{path}{'&' if '?' in path else '?'}probe={uuid.uuid4().hex}"


def test_static_file_comes_from_nginx_with_a_long_lifetime_and_an_etag(shopper):
    reply = shopper.get(STYLESHEET)

    assert reply.status == 200
    assert f"max-age={THIRTY_DAYS}" in reply.headers["Cache-Control"]
    assert reply.headers["ETag"]
    assert "X-Upstream" not in reply.headers  # no replica was asked
    assert reply.body == (STATE / "static" / "admin" / "css" / "base.css").read_bytes()


def test_static_file_revalidates_with_its_etag(shopper):
    etag = shopper.get(STYLESHEET).headers["ETag"]

    assert shopper.get(STYLESHEET, headers={"If-None-Match": etag}).status == 304


def test_static_text_is_gzipped_when_the_client_accepts_it(shopper):
    reply = shopper.get(STYLESHEET, headers={"Accept-Encoding": "gzip"})

    assert reply.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in reply.headers["Vary"]
    assert reply.body == (STATE / "static" / "admin" / "css" / "base.css").read_bytes()


def test_media_file_comes_from_nginx_with_a_long_lifetime(shopper):
    media = STATE / "media"
    picture = next(path for path in sorted(media.rglob("*")) if path.is_file())

    reply = shopper.get(f"/media/{picture.relative_to(media)}")

    assert reply.status == 200
    assert f"max-age={THIRTY_DAYS}" in reply.headers["Cache-Control"]
    assert reply.body == picture.read_bytes()


def test_api_json_is_gzipped_when_the_client_accepts_it(shopper):
    reply = shopper.get(_unseen("/api/v1/categories/"), headers={"Accept-Encoding": "gzip"})

    assert reply.status == 200
    assert reply.headers["Content-Encoding"] == "gzip"
    assert reply.json()  # Shopper.request decompressed it


def test_second_anonymous_product_list_is_a_micro_cache_hit(shopper):
    path = _unseen("/api/v1/products/?page_size=3")

    first = shopper.get(path)
    second = shopper.get(path)

    assert (first.status, first.headers["X-Cache-Status"]) == (200, "MISS")
    assert (second.status, second.headers["X-Cache-Status"]) == (200, "HIT")
    assert "X-Upstream" not in second.headers  # no replica was asked
    assert second.body == first.body


def test_a_micro_cached_answer_past_its_lifetime_is_never_served(shopper):
    # With background updates, the first request after expiry got the old copy, however old.
    path = _unseen("/api/v1/products/?page_size=2")
    assert shopper.get(path).headers["X-Cache-Status"] == "MISS"
    time.sleep(7)  # nginx counts the 5 s in whole seconds: expired within 6
    again = shopper.get(path)
    assert (again.status, again.headers["X-Cache-Status"]) == (200, "EXPIRED")


@pytest.mark.parametrize(
    "headers",
    [
        {"Cookie": "sessionid=someones-session"},
        {"Cookie": "csrftoken=someones-token"},
        {"Authorization": "Token someones-token"},
    ],
    ids=["session", "csrf-cookie", "api-token"],
)
def test_personal_request_is_never_answered_from_the_micro_cache(shopper, headers):
    path = _unseen("/api/v1/categories/")
    shopper.get(path)
    assert shopper.get(path).headers["X-Cache-Status"] == "HIT"

    personal = shopper.get(path, headers=headers)

    assert personal.headers["X-Cache-Status"] == "BYPASS"
    assert personal.headers["X-Upstream"]  # a replica answered


def test_page_that_sets_a_cookie_is_not_micro_cached():
    # The home page carries a CSRF token and sets its cookie: a cached copy would hand one
    # visitor's token to the next (nginx/microcache.conf).
    path = _unseen("/")
    first = Shopper().get(path)
    assert "csrftoken=" in first.headers["Set-Cookie"]

    second = Shopper().get(path)

    assert second.headers["X-Cache-Status"] == "MISS"
    assert second.headers["Set-Cookie"] != first.headers["Set-Cookie"]


def test_post_is_never_answered_from_the_micro_cache(shopper):
    path = _unseen("/api/v1/products/")
    shopper.get(path)
    shopper.get(path)

    reply = shopper.post(path, {})

    assert reply.status == 405  # the replica's answer: the list is read-only
    assert reply.headers["X-Upstream"]
