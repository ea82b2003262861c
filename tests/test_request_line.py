"""A request line over gunicorn's limit, through a real gunicorn as `make run` serves it (config/
gunicorn.py) and as a cluster replica does (threads, kept-alive connections): JSON with a
`detail` under /api/, the shop's own page elsewhere (issue 11). Through nginx:
tests/cluster/test_edge.py."""

import http.client
import json
from collections.abc import Iterator

import pytest

from carts.models import CartLine
from tests.fixtures import gunicorn, process_environment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

OVER_THE_LIMIT = "x" * 5000  # gunicorn refuses a request line over 4094 bytes (config/gunicorn.py)

SERVERS = {
    "make-run": ["--workers", "1"],
    "cluster-replica": ["--workers", "1", "--threads", "2", "--keep-alive", "60"],
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[int]:
    """Start gunicorn with the shop's config on a free port; return the port."""
    with django_db_blocker.unblock():
        environment = process_environment()
    log = tmp_path_factory.mktemp("request-line") / f"{request.param}.log"
    with gunicorn(*SERVERS[request.param], env=environment, log=log) as running:
        yield running.port


def get(port: int, path: str, method: str = "GET") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=b"{}" if method == "POST" else None)
    return connection.getresponse()


def test_an_api_request_line_over_the_limit_gets_json_with_a_detail(server):
    response = get(server, f"/api/v1/products/?q={OVER_THE_LIMIT}")

    assert response.status == 414
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.read()) == {
        "detail": "The request's address is longer than the server accepts.",
        "code": "uri_too_long",
    }


def test_a_storefront_request_line_over_the_limit_gets_the_shops_page(server):
    response = get(server, f"/search/?q={OVER_THE_LIMIT}")

    assert response.status == 414
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>Address too long · Shop</title>" in response.read().decode()


def test_a_request_line_under_the_limit_is_served(server):
    response = get(server, f"/healthz?padding={'x' * 4000}")

    assert response.status == 200


@pytest.mark.django_db
def test_an_add_to_cart_over_the_limit_changes_nothing(server):
    response = get(server, f"/api/v1/cart/items/?padding={OVER_THE_LIMIT}", method="POST")

    assert response.status == 414
    assert not CartLine.objects.exists()


def test_each_request_on_a_kept_alive_connection_is_judged_by_its_own_address(server):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    connection.request("GET", "/healthz")
    first = connection.getresponse()
    first.read()

    connection.request("GET", f"/api/v1/products/?q={OVER_THE_LIMIT}")
    second = connection.getresponse()

    assert first.status == 200
    assert (second.status, second.headers["Content-Type"]) == (414, "application/json")
