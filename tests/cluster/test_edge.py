"""What nginx does at the edge: client address, request ids, body and request line size, headers,
flood shield."""

import http.client
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from cluster.cluster import HOST, NGINX_PORT, PUBLIC_HOST

pytestmark = pytest.mark.cluster

ONE_MEGABYTE = 1024 * 1024


def test_body_over_one_megabyte_is_refused_by_nginx_with_413():
    connection = http.client.HTTPConnection(HOST, NGINX_PORT, timeout=30)
    # The announced length is enough: nginx answers before reading the body, which never comes.
    connection.putrequest("POST", "/api/v1/cart/items/")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(ONE_MEGABYTE + 1))
    connection.endheaders()
    response = connection.getresponse()
    connection.close()

    assert response.status == 413
    assert response.headers.get("X-Upstream") is None  # refused before any replica saw it


def test_client_request_id_is_passed_through_and_returned(shopper):
    reply = shopper.get("/healthz", headers={"X-Request-ID": "checkout-abc-12345678"})

    assert reply.headers["X-Request-ID"] == "checkout-abc-12345678"


def test_malformed_request_id_is_replaced_by_one_of_nginx(shopper):
    reply = shopper.get("/healthz", headers={"X-Request-ID": "bad id <script>"})

    assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["X-Request-ID"])


def test_every_response_carries_the_security_headers(shopper):
    for path in ("/healthz", "/static/admin/css/base.css", "/no-such-page/"):
        headers = shopper.get(path).headers

        assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
        assert headers.get_all("X-Frame-Options") == ["DENY"]
        assert headers["Referrer-Policy"] == "same-origin"
        assert len(headers.get_all("Content-Security-Policy")) == 1


def test_the_apps_pages_carry_djangos_policy_once_also_from_the_micro_cache(shopper):
    path = f"/api/v1/categories/?probe={uuid.uuid4().hex}"
    first, second = shopper.get(path), shopper.get(path)

    assert second.headers["X-Cache-Status"] == "HIT"
    for reply in (first, second, shopper.get("/no-such-page/")):
        (policy,) = reply.headers.get_all("Content-Security-Policy")
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy


def test_files_from_disk_get_nginxs_policy_under_which_nothing_runs(shopper):
    (policy,) = shopper.get("/static/admin/css/base.css").headers.get_all("Content-Security-Policy")

    assert policy == "default-src 'none'; frame-ancestors 'none'; sandbox"


def _get_with_host(path: str, host: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, NGINX_PORT, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_host_with_a_port_reaches_no_link_and_no_one_elses_answer(shopper):
    # Issue 12: the micro-cache key dropped the port the app put into `next`, so one request
    # with `Host: <host>:1337` poisoned the answer every anonymous client got for 5 s.
    path = f"/api/v1/products/?page_size=1&probe={uuid.uuid4().hex}"
    status, poisoned = _get_with_host(path, f"{HOST}:1337")
    clean = shopper.get(path)

    assert status == 200
    assert clean.status == 200
    assert clean.headers["X-Cache-Status"] == "HIT"  # the same entry: so it must be clean
    for body in (poisoned, clean.body):
        assert b"1337" not in body
        assert json.loads(body)["next"].startswith(f"http://{PUBLIC_HOST}/api/v1/products/?")


def _get_from(address: str, path: str) -> tuple[int, bytes]:
    """GET through nginx from another loopback address than 127.0.0.1 (Linux routes 127/8)."""
    connection = http.client.HTTPConnection(
        HOST, NGINX_PORT, timeout=30, source_address=(address, 0)
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_readyz_answers_the_balancer_and_refuses_other_addresses():
    status, body = _get_from(HOST, "/readyz")
    assert status == 200
    assert set(json.loads(body)["checks"].values()) == {"ok"}

    assert _get_from("127.0.0.2", "/readyz")[0] == 403
    assert _get_from("127.0.0.2", "/healthz")[0] == 200  # liveness says nothing: public


def test_a_flood_from_one_address_gets_429_from_nginx():
    def hit(_number: int) -> int:
        connection = http.client.HTTPConnection(HOST, NGINX_PORT, timeout=30)
        try:
            connection.request("HEAD", "/static/admin/css/base.css")
            return connection.getresponse().status
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(hit, range(400)))

    assert statuses.count(429) > 0
    assert statuses.count(200) >= 100  # the burst passes
    time.sleep(3)  # the bucket drains (50 a second) before the next test


# A request line under nginx's 8 KB buffer but over gunicorn's 4094 bytes is refused by the
# replica (shop/server.py); over 8 KB, by nginx itself (nginx/limits.conf). Both answer alike.
REQUEST_LINE_PADDING = {"refused-by-gunicorn": "x" * 5000, "refused-by-nginx": "x" * 9000}


def _get_raw(path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(HOST, NGINX_PORT, timeout=30)
    connection.request("GET", path)
    return connection.getresponse()


@pytest.mark.parametrize("padding", REQUEST_LINE_PADDING.values(), ids=REQUEST_LINE_PADDING)
def test_an_api_request_line_over_the_limit_gets_json_with_a_detail(padding):
    response = _get_raw(f"/api/v1/products/?q={padding}")

    assert response.status == 414
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.read()) == {
        "detail": "The request's address is longer than the server accepts.",
        "code": "uri_too_long",
    }


@pytest.mark.parametrize("padding", REQUEST_LINE_PADDING.values(), ids=REQUEST_LINE_PADDING)
def test_a_storefront_request_line_over_the_limit_gets_the_shops_page(padding):
    response = _get_raw(f"/search/?q={padding}")

    assert response.status == 414
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>Address too long · Shop</title>" in response.read().decode()
