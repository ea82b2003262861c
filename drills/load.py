"""The load a drill runs while it breaks something: shoppers in threads, through nginx only.

Four kinds of shopper, each with its own loopback source address (127.0.0.10 and up), so that
nginx's per-address shield (50 requests a second, nginx/limits.conf) counts them apart as it
would real shoppers, and each paced well below it:

- browsers: anonymous catalog GETs (API lists and pages, storefront pages, search), no cookies;
- cart shoppers: guests adding products and reading their cart, each with its own cookie jar;
- buyers: guests that add a product and place a cash-on-delivery order with an
  `Idempotency-Key`, retried with the same key after a network error or a 5xx (the client's
  contract), recording the order numbers they got;
- members: accounts registered before the drill, reading /api/v1/auth/me/ with their session.

Every loop is bounded in count and in time.
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import ipaddress
import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field

from cluster.cluster import HOST, NGINX_PORT

NGINX = f"http://{HOST}:{NGINX_PORT}"  # the cluster's; make ha's balancer is passed as base_url
TIMEOUT = 10  # seconds per request
EXPECTED_STATUSES = {409}  # an order's twin still running, out of stock: the API's answers

BROWSERS, CART_SHOPPERS, BUYERS, MEMBERS = 4, 4, 3, 2
BROWSE_INTERVAL = 1 / 12  # seconds between one shopper's requests
CART_INTERVAL = 0.3
MEMBER_INTERVAL = 1.0
MAX_REQUESTS_PER_SHOPPER = 600
MAX_CART_ADDS = 40  # below the cart's 50 lines (CART_MAX_LINES)
MAX_ORDERS_PER_BUYER = 100
ORDER_ANSWER_SECONDS = 90  # how long a buyer keeps retrying one key for an answer
# The password of the accounts each drill makes for its shoppers, in its own throwaway database.
SIGN_IN_PASSWORD = "drill-Passw0rd-long-enough"  # noqa: S105

_addresses = iter(f"127.0.0.{n}" for n in range(10, 250))
_address_lock = threading.Lock()


def next_source_address() -> str:
    with _address_lock:
        return next(_addresses, "127.0.0.1")


# --- Counting -------------------------------------------------------------------------------


@dataclass
class Tally:
    """Requests and errors of one kind of shopper, counted across its threads."""

    requests: int = 0
    errors: int = 0  # non-2xx other than the expected 409s, plus connection errors
    server_errors: int = 0  # 5xx
    connection_errors: int = 0
    statuses: Counter = field(default_factory=Counter)
    failed_at: list[float] = field(default_factory=list)  # time.time() of each error
    # When each failed request was sent: a drill can tell those caught in flight by a fault
    # from those sent after the balancer should have stepped around it.
    failed_sent_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int | None, *, sent_at: float | None = None) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[status or "conn"] += 1
            if status is None:
                self.connection_errors += 1
            if status is not None and status >= 500:
                self.server_errors += 1
            if status is None or (not 200 <= status < 300 and status not in EXPECTED_STATUSES):
                self.errors += 1
                self.failed_at.append(time.time())
                self.failed_sent_at.append(sent_at or time.time())


@dataclass
class Reply:
    status: int | None  # None: the connection failed or timed out
    body: dict | list | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _KeepErrors(urllib.request.HTTPErrorProcessor):
    """Return 4xx and 5xx answers like any other instead of raising."""

    def http_response(self, request, response):
        return response


class _FromAddress(urllib.request.HTTPHandler):
    """Connect from one loopback address, so that nginx sees one client per shopper."""

    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def http_open(self, request):
        connection = functools.partial(http.client.HTTPConnection, source_address=(self.address, 0))
        return self.do_open(connection, request)


def _is_loopback(url: str) -> bool:
    """Whether the shop is reached on loopback (the cluster), where a shopper can take an
    address of 127.0.0.0/8 for itself; elsewhere (make ha's floating address) it cannot."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Shopper:
    """One client of the shop through nginx: its own address, and a cookie jar unless anonymous."""

    def __init__(
        self, tally: Tally, *, cookies: bool = True, base_url: str = NGINX, timeout: float = TIMEOUT
    ):
        self.tally = tally
        self.base_url = base_url
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar() if cookies else None
        handlers: list = [_KeepErrors()]
        if _is_loopback(base_url):  # a loopback address of its own: one client per shopper
            handlers.append(_FromAddress(next_source_address()))
        if self.jar is not None:
            handlers.append(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> Reply:
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        sent_at = time.time()
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException):
            self.tally.count(None, sent_at=sent_at)
            return Reply(None, None)
        self.tally.count(status, sent_at=sent_at)
        parsed = None
        if raw[:1] in (b"{", b"["):
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        return Reply(status, parsed)

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, body=None, headers: dict | None = None) -> Reply:
        return self.request("POST", path, body, headers)


# --- The catalog the shoppers walk ----------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    products: list[tuple[int, str]]  # (pk, slug) of products with plenty of stock
    categories: list[str]  # slugs
    words: list[str]  # search terms


def _order_body(email: str) -> dict:
    return {
        "email": email,
        "shipping_address": {
            "name": "Drill Buyer",
            "line1": "1 Fault Street",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
            "phone": "+49 30 1234567",
        },
        "payment": {"method": "cod"},
    }


# --- The shoppers ---------------------------------------------------------------------------


@dataclass
class CartRecord:
    """What one cart shopper saw: its cart's last item count, and its adds' outcomes."""

    shopper: Shopper
    last_item_count: int | None = None
    acknowledged_adds: int = 0  # answered 200
    uncertain_adds: int = 0  # no answer or a 5xx: may or may not have happened


@dataclass
class BuyerRecord:
    """What one buyer got: each key it used and the order number it was answered with."""

    shopper: Shopper
    numbers: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → order number
    unanswered: list[str] = field(default_factory=list)  # keys never answered 201 or 4xx
    refused: Counter = field(default_factory=Counter)  # 4xx codes that ended a key
    placed_at: list[float] = field(default_factory=list)  # time.time() of each 201


@dataclass
class Load:
    """A bounded load of every kind of shopper; `start()`, then `stop()` and `join()`."""

    catalog: Catalog
    email: str  # the buyers' e-mail: this drill's orders are the ones with it
    key_prefix: str
    members: list[Shopper]
    max_seconds: float = 60
    base_url: str = NGINX  # where the shoppers go: the cluster's nginx, or make ha's balancer
    timeout: float = TIMEOUT  # seconds a shopper waits for one answer
    # How many of each kind of shopper.
    browsers: int = BROWSERS
    cart_shoppers: int = CART_SHOPPERS
    buyer_count: int = BUYERS
    tallies: dict[str, Tally] = field(
        default_factory=lambda: {name: Tally() for name in ("catalog", "cart", "orders", "member")}
    )
    carts: list[CartRecord] = field(default_factory=list)
    buyers: list[BuyerRecord] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.deadline = time.monotonic() + self.max_seconds
        for number in range(self.browsers):
            self._spawn(self._browse, random.Random(number))
        for _ in range(self.cart_shoppers):
            record = CartRecord(self._shopper("cart"))
            self.carts.append(record)
            self._spawn(self._fill_cart, record)
        for number in range(self.buyer_count):
            record = BuyerRecord(self._shopper("orders"))
            self.buyers.append(record)
            self._spawn(self._buy, record, number)
        for member in self.members:
            member.tally = self.tallies["member"]
            self._spawn(self._stay_signed_in, member)

    def stop(self) -> None:
        self.stopping.set()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=ORDER_ANSWER_SECONDS + 2 * self.timeout + 5)

    def _shopper(self, kind: str, *, cookies: bool = True) -> Shopper:
        return Shopper(
            self.tallies[kind], cookies=cookies, base_url=self.base_url, timeout=self.timeout
        )

    def _spawn(self, target, *arguments) -> None:
        thread = threading.Thread(target=target, args=arguments, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _running(self) -> bool:
        return not self.stopping.is_set() and time.monotonic() < self.deadline

    def _browse(self, rng: random.Random) -> None:
        shopper = self._shopper("catalog", cookies=False)
        for _ in range(MAX_REQUESTS_PER_SHOPPER):
            if not self._running():
                return
            _pk, slug = rng.choice(self.catalog.products)
            category = rng.choice(self.catalog.categories)
            word = rng.choice(self.catalog.words)
            path = rng.choice(
                [
                    f"/api/v1/products/?page={rng.randint(1, 20)}&page_size=24",
                    f"/api/v1/products/?category={category}",
                    f"/api/v1/products/{slug}/",
                    f"/api/v1/search/?q={word}",
                    "/",
                    f"/c/{category}/",
                    f"/p/{slug}/",
                    f"/search/?q={word}",
                ]
            )
            shopper.get(path)
            time.sleep(BROWSE_INTERVAL)

    def _fill_cart(self, record: CartRecord) -> None:
        rng = random.Random()
        products = rng.sample(self.catalog.products, MAX_CART_ADDS)
        for pk, _slug in products:
            if not self._running():
                break
            added = record.shopper.post("/api/v1/cart/items/", {"product_id": pk, "quantity": 1})
            if added.ok:
                record.acknowledged_adds += 1
            elif added.status is None or added.status >= 500:
                record.uncertain_adds += 1
            time.sleep(CART_INTERVAL)
            self._read_cart(record)
            time.sleep(CART_INTERVAL)
        # The last word is a successful read, retried for a while if the cart is unreachable.
        give_up = time.monotonic() + 30
        while not self._read_cart(record) and time.monotonic() < give_up:
            time.sleep(1)

    @staticmethod
    def _read_cart(record: CartRecord) -> bool:
        cart = record.shopper.get("/api/v1/cart/")
        if cart.ok and isinstance(cart.body, dict):
            record.last_item_count = cart.body["item_count"]
            return True
        return False

    def _buy(self, record: BuyerRecord, number: int) -> None:
        rng = random.Random()
        shopper = record.shopper
        for sequence in range(MAX_ORDERS_PER_BUYER):
            if not self._running():
                return
            pk, _slug = rng.choice(self.catalog.products)
            added = shopper.post("/api/v1/cart/items/", {"product_id": pk, "quantity": 1})
            if not added.ok:
                time.sleep(0.5)
                continue
            key = f"{self.key_prefix}-{number}-{sequence}-{uuid.uuid4().hex[:8]}"
            self._place_order(record, key)
            time.sleep(0.2)

    def _place_order(self, record: BuyerRecord, key: str) -> None:
        """POST the order until it is answered; the same key every time, as the contract says."""
        body = _order_body(self.email)
        give_up = time.monotonic() + ORDER_ANSWER_SECONDS
        for _ in range(200):
            reply = record.shopper.post("/api/v1/orders/", body, {"Idempotency-Key": key})
            if reply.status == 201:
                record.numbers[key] = reply.body["number"]
                record.placed_at.append(time.time())
                return
            in_progress = reply.status == 409 and (reply.body or {}).get("code") == (
                "request_in_progress"
            )
            if reply.status is not None and reply.status < 500 and not in_progress:
                record.refused[f"{reply.status} {(reply.body or {}).get('code', '')}"] += 1
                return
            if time.monotonic() > give_up:
                break
            time.sleep(1 if in_progress else 0.5)
        record.unanswered.append(key)

    def _stay_signed_in(self, member: Shopper) -> None:
        for _ in range(MAX_REQUESTS_PER_SHOPPER):
            if not self._running():
                return
            member.get("/api/v1/auth/me/")
            time.sleep(MEMBER_INTERVAL)


def register_member(tally: Tally, email: str, *, base_url: str = NGINX) -> Shopper:
    """Register an account and keep its session cookie; raise if the shop refuses."""
    member = Shopper(tally, base_url=base_url)
    reply = member.post("/api/v1/auth/register/", {"email": email, "password": SIGN_IN_PASSWORD})
    if reply.status != 201:
        raise RuntimeError(f"registering {email} answered {reply.status}: {reply.body}")
    return member
