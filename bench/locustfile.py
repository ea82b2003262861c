"""The load of `make bench` (bench/run_bench.py runs it; see bench/README.md).

Four kinds of virtual user, picked by class name on Locust's command line:

- ``Floor``: ``GET /healthz``, a bare Django JSON view behind the same nginx and gunicorn;
- ``Ceiling``: ``GET /static/shop/shop.css``, a file nginx serves without the app;
- ``Shopper``: the realistic mix: home page, category listing, product, search, add to cart,
  view the cart, now and then check out cash on delivery (409 when a line ran out of stock);
- ``FlashSale``: every user adds the one product of ``BENCH_FLASH_PRODUCT`` and checks out
  at once; with few units most get a 409, which is the expected answer, not an error.

Users run closed-loop (no think time), each at most ``PER_USER_RATE`` requests a second from a
loopback address of its own (127.1.x.y): nginx's shield allows 50 requests a second per client
address (nginx/limits.conf), and a sale-day crowd comes from many addresses, not one. Shoppers
and flash-sale users register an account once (``/api/v1/auth/register/``) and send its token
only on cart and order requests, so catalog reads stay anonymous as a visitor's are (and meet
nginx's micro-cache as theirs do). No cookie is kept: a token client needs none. With
``BENCH_ACCOUNTS`` (a JSON file of tokens) Shoppers reuse the accounts an earlier run made.

An expected refusal is reported under its own name (``... [409 sold out]``) as a success;
``BENCH_STATUS_FILE`` receives every request's status code per name as JSON when Locust quits,
which is how the driver proves there was no 5xx.
"""

import itertools
import json
import os
import random
import urllib.request
import uuid
from collections import Counter, defaultdict
from http.cookiejar import DefaultCookiePolicy

import gevent.event
from geventhttpclient.url import URL
from locust import FastHttpUser, constant_throughput, events, task
from locust.exception import StopUser

PER_USER_RATE = 40  # requests a second, under nginx's 50 r/s per address (nginx/limits.conf)
CATALOG_PAGES = 5  # product list pages read at start: the products shoppers look at and buy
HEX_TO_LETTERS = str.maketrans("0123456789abcdef", "ghijklmnopqrstuv")
ADDRESS = {
    "name": "Bench Shopper",
    "line1": "1 Load Street",
    "city": "Loopback",
    "postal_code": "10001",
    "country": "DE",
    "phone": "+49 30 1234567",
}
SOLD_OUT = "409 sold out"
RACE_WAIT_SECONDS = 30  # most a flash-sale user waits for the others to have registered

_addresses = itertools.count()
_statuses: defaultdict[str, Counter[int]] = defaultdict(Counter)
_catalog: dict[str, list] = {"categories": [], "products": [], "words": []}
_accounts: dict[str, list[str]] = {"unused": [], "used": []}
_race = {"registered": 0, "started": gevent.event.Event()}


def _next_address() -> str:
    number = next(_addresses)
    return f"127.1.{number // 250}.{number % 250 + 1}"


def _get_json(host: str, path: str) -> object:
    with urllib.request.urlopen(f"{host}{path}", timeout=10) as response:
        return json.load(response)


def _category_slugs(tree: list) -> list[str]:
    slugs = []
    for node in tree:
        slugs.append(node["slug"])
        slugs += _category_slugs(node["children"])
    return slugs


@events.test_start.add_listener
def read_catalog(environment, **_kwargs) -> None:
    """Learn the categories, some products in stock and title words before the first user."""
    host = environment.host
    _catalog["categories"] = _category_slugs(_get_json(host, "/api/v1/categories/"))
    products = []
    for page in range(1, CATALOG_PAGES + 1):
        listing = _get_json(host, f"/api/v1/products/?in_stock=true&page_size=100&page={page}")
        products += [(item["id"], item["slug"]) for item in listing["results"]]
        if not listing["next"]:
            break
    _catalog["products"] = products
    words = {word.lower() for _pk, slug in products for word in slug.split("-") if word.isalpha()}
    _catalog["words"] = sorted(word for word in words if len(word) > 3)
    accounts = os.environ.get("BENCH_ACCOUNTS")
    if accounts and os.path.exists(accounts):
        with open(accounts) as file:
            _accounts["unused"] = json.load(file)


@events.request.add_listener
def count_status(name, response, **_kwargs) -> None:
    _statuses[name][getattr(response, "status_code", 0) or 0] += 1


@events.quitting.add_listener
def write_statuses(**_kwargs) -> None:
    path = os.environ.get("BENCH_STATUS_FILE")
    if path:
        with open(path, "w") as file:
            json.dump({name: dict(counts) for name, counts in _statuses.items()}, file)
    accounts = os.environ.get("BENCH_ACCOUNTS")
    if accounts:
        with open(accounts, "w") as file:
            json.dump(_accounts["used"] + _accounts["unused"], file)


class ShopUser(FastHttpUser):
    """A client of its own address, no cookies, and an account once it needs one."""

    abstract = True
    wait_time = constant_throughput(PER_USER_RATE)

    def on_start(self) -> None:
        address = _next_address()
        pool = self.client.client.clientpool.get_client(URL(self.host))._connection_pool
        create_socket = pool._create_tcp_socket

        def bound_socket(family, socktype, protocol):
            sock = create_socket(family, socktype, protocol)
            sock.bind((address, 0))
            return sock

        pool._create_tcp_socket = bound_socket  # geventhttpclient has no source_address option
        self.client.cookiejar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.token_headers: dict[str, str] | None = None

    def register(self) -> None:
        """Sign up with a fresh e-mail and a strong password; keep the token.

        With BENCH_ACCOUNTS, an account an earlier run registered is used instead while any is
        left, and every token is written back at the end: the scaling runs would otherwise
        spend their first seconds on Argon2 (a quarter core hashes a few passwords a second).
        """
        if _accounts["unused"]:
            token = _accounts["unused"].pop()
            _accounts["used"].append(token)
            self.token_headers = {"Authorization": f"Token {token}"}
            return
        # Letters only before the @: a hex e-mail and a hex password can be "too similar".
        name = uuid.uuid4().hex.translate(HEX_TO_LETTERS)
        payload = {"email": f"{name}@bench.example", "password": f"Bench-{uuid.uuid4()}-pw"}
        with self.client.post(
            "/api/v1/auth/register/", json=payload, catch_response=True
        ) as response:
            if response.status_code == 201:
                token = response.json()["token"]
                _accounts["used"].append(token)
                self.token_headers = {"Authorization": f"Token {token}"}
            else:
                response.failure(f"register: {response.status_code}")

    def check_out(self, name: str) -> int:
        """Place a cash-on-delivery order from the cart; a 409 (sold out) is no failure."""
        payload = {
            "email": "shopper@bench.example",
            "shipping_address": ADDRESS,
            "payment": {"method": "cod"},
        }
        with self.client.post(
            "/api/v1/orders/",
            json=payload,
            headers={**self.token_headers, "Idempotency-Key": uuid.uuid4().hex},
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code == 409:
                response.request_meta["name"] = f"{name} [{SOLD_OUT}]"
                response.success()
            return response.status_code

    def add_to_cart(self, product_pk: int, name: str) -> int:
        with self.client.post(
            "/api/v1/cart/items/",
            json={"product_id": product_pk, "quantity": 1},
            headers=self.token_headers,
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code == 409:
                response.request_meta["name"] = f"{name} [{SOLD_OUT}]"
                response.success()
            return response.status_code


class Floor(ShopUser):
    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="/healthz (floor)")


class Ceiling(ShopUser):
    @task
    def static_file(self) -> None:
        self.client.get("/static/shop/shop.css", name="/static/shop/shop.css (ceiling)")


class Shopper(ShopUser):
    """Browses most of the time, fills a cart now and then, checks out once in a while."""

    def on_start(self) -> None:
        super().on_start()
        self.cart_lines = 0

    @task(3)
    def home(self) -> None:
        self.client.get("/", name="/ (home page)")

    @task(6)
    def category(self) -> None:
        slug = random.choice(_catalog["categories"])
        self.client.get(
            f"/api/v1/products/?category={slug}&ordering=price",
            name="/api/v1/products/?category=",
        )

    @task(6)
    def product(self) -> None:
        _pk, slug = random.choice(_catalog["products"])
        self.client.get(f"/api/v1/products/{slug}/", name="/api/v1/products/{slug}/")

    @task(3)
    def search(self) -> None:
        self.client.get(
            f"/api/v1/search/?q={random.choice(_catalog['words'])}", name="/api/v1/search/?q="
        )

    @task(3)
    def add(self) -> None:
        if self.token_headers is None:
            self.register()
            if self.token_headers is None:
                return
        pk, _slug = random.choice(_catalog["products"])
        if self.add_to_cart(pk, "/api/v1/cart/items/") in (200, 201):
            self.cart_lines += 1

    @task(2)
    def view_cart(self) -> None:
        if self.token_headers:
            self.client.get("/api/v1/cart/", headers=self.token_headers, name="/api/v1/cart/")

    @task(1)
    def check_out_now_and_then(self) -> None:
        if self.token_headers and self.cart_lines >= 2 and random.random() < 0.5:
            self.check_out("/api/v1/orders/ (cash on delivery)")
            self.cart_lines = 0


class FlashSale(ShopUser):
    """Races every other user for the units of one product: add it, check out, stop.

    Registering (Argon2) is slow, so every user first signs up and waits for the others:
    the race starts when all have an account (or after RACE_WAIT_SECONDS).
    """

    def on_start(self) -> None:
        super().on_start()
        self.register()
        _race["registered"] += 1
        if _race["registered"] >= self.environment.runner.target_user_count:
            _race["started"].set()
        _race["started"].wait(timeout=RACE_WAIT_SECONDS)

    @task
    def race(self) -> None:
        if self.token_headers is None:
            raise StopUser()
        product_pk = int(os.environ["BENCH_FLASH_PRODUCT"])
        if self.add_to_cart(product_pk, "/api/v1/cart/items/ (flash sale)") in (200, 201):
            self.check_out("/api/v1/orders/ (flash sale)")
        raise StopUser()
