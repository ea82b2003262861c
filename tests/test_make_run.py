"""`make run` answers as the cluster does (issue 11): two real gunicorn processes on the embedded
defaults (one SQLite file, the file cache they share, no server), each on its own loopback port,
stand in for `make run`'s workers. What one of them learns, the other knows at once."""

import contextlib
import http.client
import re
import time
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
import requests
from django.urls import reverse
from django_ratelimit.core import _get_window

from tests.fixtures import Server, clean_environment, gunicorn, run_manage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OPERATOR = ("ops@make-run.test", "ops-make-run-password")
# Nothing like a hex e-mail: "a-long-passphrase-for-make-run" was "too similar" to
# shopper-<hex>@make-run.test about once in 300 registrations, and CI met one.
PASSWORD = "quiz-vixen-jumbo-glyph"
HTTP_TIMEOUT = 10  # seconds: a worker that stops answering fails the test, not hangs it
# The catalog the two apps share: one category, one product, made before they start.
CATALOG = """
from catalog.models import Category, Product

lamps = Category.objects.create(name="Lamps", slug="lamps")
Product.objects.create(category=lamps, sku="LAMP-1", slug="desk-lamp", title="Desk lamp",
                       price="10.00", stock=5)
"""


def _manage(env: dict[str, str], *args: str) -> None:
    result = run_manage(*args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def apps(tmp_path_factory) -> Iterator[tuple[Server, Server]]:
    """Two app processes on one SQLite file and one cache directory, nothing else."""
    home = tmp_path_factory.mktemp("make-run")
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{home / 'db.sqlite3'}",
        CACHE_DIR=str(home / "cache"),
        MEDIA_ROOT=str(home / "media"),
        STATIC_ROOT=str(home / "static"),
    )
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "ensure_operator", "--email", OPERATOR[0], "--password", OPERATOR[1])
    _manage(env, "shell", "-c", CATALOG)
    with contextlib.ExitStack() as running:
        first, second = (
            running.enter_context(gunicorn("--workers", "1", env=env, log=home / f"{name}.log"))
            for name in ("app1", "app2")
        )
        yield first, second


class _FormReader(HTMLParser):
    """Read the values a browser would submit from the admin's change form."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        kind = attributes.get("type", "text")
        if tag == "input" and name and kind not in {"submit", "file", "button"}:
            if kind != "checkbox" or "checked" in attributes:
                self.values[name] = attributes.get("value") or ("on" if kind == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attributes:
            self.values[self._select] = attributes.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def _change_price_in_the_admin(app: Server, *, slug: str, price: str) -> None:
    operator = requests.Session()
    login = f"{app.url}/admin/login/"
    operator.get(login, timeout=10)
    signed_in = operator.post(
        login,
        data={
            "username": OPERATOR[0],
            "password": OPERATOR[1],
            "csrfmiddlewaretoken": operator.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login},
        timeout=10,
    )
    assert signed_in.url == f"{app.url}/admin/"
    found = operator.get(f"{app.url}/admin/catalog/product/?q={slug}", timeout=10)
    pk = re.search(r'href="/admin/catalog/product/(\d+)/change/', found.text).group(1)
    change = f"{app.url}/admin/catalog/product/{pk}/change/"
    form = _FormReader()
    form.feed(operator.get(change, timeout=10).text)
    saved = operator.post(
        change,
        data={**form.values, "price": price, "_save": "Save"},
        headers={"Referer": change},
        timeout=10,
        allow_redirects=False,
    )
    assert saved.status_code == 302, saved.text


def _address_with_a_fresh_window(seconds: int) -> str:
    """Return a loopback address whose rate-limit window has most of `seconds` still to run.

    django-ratelimit's windows start at an offset drawn from the counted key (the address), so
    picking the address keeps the whole test inside one window: the limit cannot reset midway.
    """
    for number in range(2, 250):
        address = f"127.0.0.{number}"
        if _get_window(address, seconds) - time.time() > seconds / 2:
            return address
    raise AssertionError("no loopback address with a fresh rate-limit window")


def _search_status(app: Server, *, source: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", app.port, source_address=(source, 0))
    try:
        connection.request("GET", "/api/v1/search/?q=lamp")
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_token_revoked_through_one_worker_is_refused_by_another_at_once(apps):
    first, second = apps
    email = f"shopper-{uuid.uuid4().hex[:8]}@make-run.test"
    registered = requests.post(
        f"{first.url}/api/v1/auth/register/",
        json={"email": email, "password": PASSWORD},
        timeout=HTTP_TIMEOUT,
    )
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Token {registered.json()['token']}"}
    me, logout = f"{second.url}/api/v1/auth/me/", f"{first.url}/api/v1/auth/logout/"
    assert requests.get(me, headers=headers, timeout=HTTP_TIMEOUT).status_code == 200
    assert requests.post(logout, headers=headers, timeout=HTTP_TIMEOUT).status_code == 204
    refused = requests.get(me, headers=headers, timeout=HTTP_TIMEOUT)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_a_session_signed_out_through_one_worker_is_signed_out_on_another_at_once(apps):
    first, second = apps
    email = f"shopper-{uuid.uuid4().hex[:8]}@make-run.test"
    registered = requests.post(
        f"{first.url}/api/v1/auth/register/",
        json={"email": email, "password": PASSWORD},
        timeout=HTTP_TIMEOUT,
    )
    assert registered.status_code == 201, registered.text
    browser = requests.Session()  # cookies go to both ports: they share the host
    signed_in = browser.post(
        f"{first.url}/api/v1/auth/login/", json={"email": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 200
    assert browser.get(f"{second.url}/api/v1/auth/me/").status_code == 200
    signed_out = browser.post(
        f"{first.url}/api/v1/auth/logout/", headers={"X-CSRFToken": browser.cookies["csrftoken"]}
    )
    assert signed_out.status_code == 204
    browser.cookies.set("sessionid", signed_in.cookies["sessionid"])  # as a stolen cookie would
    assert browser.get(f"{second.url}/api/v1/auth/me/").status_code == 401


def test_a_price_changed_through_one_worker_shows_on_the_others_category_page_at_once(apps):
    first, second = apps
    page = f"{second.url}{reverse('catalog:category', kwargs={'slug': 'lamps'})}"
    assert "10.00" in requests.get(page, timeout=HTTP_TIMEOUT).text  # the page is now cached
    _change_price_in_the_admin(first, slug="desk-lamp", price="23.45")
    shown = requests.get(page, timeout=HTTP_TIMEOUT).text
    assert "23.45" in shown
    assert "10.00" not in shown


def test_a_search_limit_of_60_a_minute_holds_over_both_workers_together(apps):
    source = _address_with_a_fresh_window(60)
    statuses = [_search_status(apps[number % 2], source=source) for number in range(70)]
    assert statuses == [200] * 60 + [429] * 10
