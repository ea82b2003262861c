"""Cash on delivery cannot hoard a sale's stock (issue 12, item 12).

Caps per order and per customer, an expiry for orders nobody confirms, a signed link that
confirms, and real ISO 3166 country codes.
"""

import re
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import Product
from catalog.tests.factories import ProductFactory
from orders import tasks
from orders.models import Order, OutboxEvent
from orders.tests.actions import add_on_storefront, add_to_cart, checkout_form, order_body
from shop.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONFIRM_LINK = re.compile(re.escape(settings.SHOP_PUBLIC_URL) + r"(/orders/confirm/[^/\s]+/)")


@pytest.fixture
def sale(db):
    """A sale's hot product and a spare one, with plenty of units each."""
    return (
        ProductFactory(title="Limited Sneaker", price="99.00", stock=1000),
        ProductFactory(title="Laces", price="2.00", stock=1000),
    )


def _guest(address: str = "203.0.113.7") -> APIClient:
    return APIClient(REMOTE_ADDR=address)


def _cod(client: APIClient, cart: dict, email: str = "ada@example.com", **changes):
    """Fill a fresh cart ({product: units}) and order it cash on delivery."""
    for product, units in cart.items():
        add_to_cart(client, product, units)
    body = order_body(method="cod", email=email, **changes)
    return client.post("/api/v1/orders/", body, format="json")


def _stock(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def _expire_reservations() -> int:
    """Move past every reservation, run the sweeper as beat does; return how many it cancelled."""
    Order.objects.exclude(reserved_until=None).update(
        reserved_until=timezone.now() - timedelta(seconds=1)
    )
    return tasks.cancel_expired_orders_task.delay().get()


# --- Country codes ------------------------------------------------------------------------


def test_the_api_refuses_a_country_that_iso_3166_does_not_know_and_orders_nothing(sale):
    hot, _ = sale
    client = _guest()
    bad = order_body(method="cod")["shipping_address"] | {"country": "ZZ"}
    response = _cod(client, {hot: 2}, shipping_address=bad)
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "shipping_address": {
            "country": ["'ZZ' is not an ISO 3166-1 country code; enter one such as DE."]
        }
    }
    assert "detail" in response.json()
    assert Order.objects.count() == 0
    assert _stock(hot) == 1000


def test_the_storefront_refuses_a_country_that_iso_3166_does_not_know(client, sale):
    hot, _ = sale
    add_on_storefront(client, hot, 2)
    form = checkout_form(client, payment_method="cod", card_token="", country="zz")
    response = client.post("/orders/checkout/", form)
    assert response.status_code == 200
    assert "&#x27;zz&#x27; is not an ISO 3166-1 country code; enter one such as DE." in (
        response.content.decode()
    )
    assert Order.objects.count() == 0
    assert _stock(hot) == 1000


def test_a_real_country_code_in_either_case_is_kept_upper_case(sale):
    hot, _ = sale
    address = order_body()["shipping_address"] | {"country": "de"}
    response = _cod(_guest(), {hot: 1}, shipping_address=address)
    assert response.status_code == 201
    assert response.json()["shipping_address"]["country"] == "DE"


# --- Caps ---------------------------------------------------------------------------------


def test_a_loop_of_cod_orders_from_one_address_stops_at_the_address_cap(sale, settings):
    settings.COD_MAX_UNITS_PER_ADDRESS = 20
    hot, spare = sale
    statuses = []
    for attempt in range(6):  # a new cart and a new e-mail address each time, one address
        response = _cod(_guest(), {hot: 5, spare: 5}, email=f"junk{attempt}@example.com")
        statuses.append(response.status_code)
    assert statuses == [201, 201, 409, 409, 409, 409]
    refusal = response.json()
    assert refusal["code"] == "cod_limit"
    assert refusal["cap"] == "COD_MAX_UNITS_PER_ADDRESS"
    assert refusal["detail"].startswith(
        "Cash on delivery is limited to 20 units across the open orders from one address; 20 "
        "are in open orders from your address and this order has 10."
    )
    assert (_stock(hot), _stock(spare)) == (990, 990)
    assert Order.objects.count() == 2


def test_the_address_cap_is_larger_than_a_customers(sale):
    """Shoppers behind one NAT address each get the customer cap, up to the address's."""
    hot, spare = sale
    statuses = [
        _cod(_guest(), {hot: 5, spare: 5}, email=f"neighbour{n}@example.com").status_code
        for n in range(11)
    ]
    assert statuses == [201] * 10 + [409]  # 100 units from one address, 10 each


def test_the_customer_cap_counts_a_guests_e_mail_address_from_any_client_address(sale):
    hot, _ = sale
    assert _cod(_guest("198.51.100.1"), {hot: 10}).status_code == 201
    assert _cod(_guest("198.51.100.2"), {hot: 10}).status_code == 201
    response = _cod(_guest("198.51.100.3"), {hot: 1})
    assert (response.status_code, response.json()["code"]) == (409, "cod_limit")
    assert _stock(hot) == 980


def test_the_customer_cap_counts_an_accounts_orders_from_any_address(
    sale, django_capture_on_commit_callbacks
):
    hot, _ = sale
    user = UserFactory(email="ada@example.com", password="x")
    responses = []
    for number, address in enumerate(["198.51.100.1", "198.51.100.2", "198.51.100.3"]):
        client = _guest(address)
        client.force_authenticate(user)
        with django_capture_on_commit_callbacks(execute=True):  # the ordered cart is emptied
            response = _cod(client, {hot: 10 if number < 2 else 1}, email=f"{number}@x.org")
        responses.append(response)
    assert [r.status_code for r in responses] == [201, 201, 409]
    assert _stock(hot) == 980


def test_a_cod_order_over_the_per_order_cap_is_refused_and_takes_nothing(sale):
    hot, spare = sale
    client = _guest()
    response = _cod(client, {hot: 6, spare: 5})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cash on delivery is limited to 10 units per order; this order has 11. "
        "Pay by card, or order fewer.",
        "code": "cod_limit",
        "cap": "COD_MAX_UNITS_PER_ORDER",
        "limit": 10,
    }
    assert Order.objects.count() == 0
    assert (_stock(hot), _stock(spare)) == (1000, 1000)
    assert client.get("/api/v1/cart/").json()["item_count"] == 11  # the cart is kept


def test_card_orders_are_not_capped(sale, django_capture_on_commit_callbacks):
    hot, spare = sale
    client = _guest()
    for _ in range(3):
        add_to_cart(client, hot, 10)
        add_to_cart(client, spare, 10)
        with django_capture_on_commit_callbacks(execute=True):  # the ordered cart is emptied
            response = client.post("/api/v1/orders/", order_body(), format="json")
        assert (response.status_code, response.json()["status"]) == (201, "paid")
    assert (_stock(hot), _stock(spare)) == (970, 970)


def test_expired_cod_orders_no_longer_count_against_the_cap(sale):
    hot, _ = sale
    assert _cod(_guest(), {hot: 10}).status_code == 201
    assert _cod(_guest(), {hot: 10}).status_code == 201
    assert _expire_reservations() == 2
    assert _cod(_guest(), {hot: 10}).status_code == 201


@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_simultaneous_cod_orders_from_one_customer_cannot_together_pass_the_cap(
    postgres, sale, settings
):
    """Each order sees the others only once they commit: the customer's lock puts them in line."""
    settings.COD_MAX_UNITS_PER_ADDRESS = 20  # six guests, one address
    hot, _ = sale
    clients = [_guest() for _ in range(6)]
    for client in clients:
        add_to_cart(client, hot, 5)
    responses = [None] * len(clients)

    def order(number: int) -> None:
        try:
            body = order_body(method="cod", email=f"{number}@example.com")
            responses[number] = clients[number].post("/api/v1/orders/", body, format="json")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=order, args=(n,)) for n in range(len(clients))]
    # This transaction holds the product's row: an order that gets past its cap check waits in
    # take_stock, uncommitted. Once all six wait (on this row, or on one another), they go on.
    with transaction.atomic():
        Product.objects.select_for_update().get(pk=hot.pk)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60  # a bound against hanging, not a measurement
        while _sessions_waiting_on_me() < len(clients):
            assert time.monotonic() < deadline, "the orders never all waited"
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(r.status_code for r in responses) == [201] * 4 + [409] * 2
    assert _stock(hot) == 980


def _sessions_waiting_on_me() -> int:
    """How many sessions wait for a lock this one holds, directly or through another waiter."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE waiting(pid) AS (
                SELECT pid FROM pg_locks
                WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))
                UNION
                SELECT l.pid FROM pg_locks l JOIN waiting w ON w.pid = ANY(pg_blocking_pids(l.pid))
                WHERE NOT l.granted
            )
            SELECT count(DISTINCT pid) FROM waiting
            """
        )
        return cursor.fetchone()[0]


# --- Expiry and confirmation ----------------------------------------------------------------


def _confirm_link(order: Order) -> str:
    [message] = [m for m in mail.outbox if order.number in m.subject]
    assert message.subject == f"Please confirm your order {order.number}"
    return CONFIRM_LINK.search(message.body).group(1)


def _placed(client, product, units, capture) -> Order:
    with capture(execute=True):
        response = _cod(client, {product: units})
    assert response.status_code == 201
    return Order.objects.get(number=response.json()["number"])


def test_an_unconfirmed_cod_order_gives_its_stock_back_after_it_expires(
    sale, django_capture_on_commit_callbacks
):
    hot, _ = sale
    order = _placed(_guest(), hot, 4, django_capture_on_commit_callbacks)
    assert _stock(hot) == 996
    assert tasks.cancel_expired_orders_task.delay().get() == 0  # still within its time
    with django_capture_on_commit_callbacks(execute=True):
        assert _expire_reservations() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert _stock(hot) == 1000
    assert f"Your order {order.number} was cancelled" in [m.subject for m in mail.outbox]


def test_a_cod_order_confirmed_by_its_e_mailed_link_keeps_its_stock(
    client, sale, django_capture_on_commit_callbacks
):
    hot, _ = sale
    order = _placed(_guest(), hot, 4, django_capture_on_commit_callbacks)
    link = _confirm_link(order)
    page = client.get(link)  # any browser: the signed link is the proof
    assert page.status_code == 200
    assert f"Confirm order {order.number}" in page.content.decode()
    assert Order.objects.get(pk=order.pk).confirmed_at is None  # a GET confirms nothing

    response = client.post(link)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.confirmed_at is not None
    assert (order.status, order.reserved_until) == (Order.Status.PENDING_PAYMENT, None)
    assert "Your order is confirmed" in client.get(link).content.decode()
    assert _expire_reservations() == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT
    assert _stock(hot) == 996


def test_a_confirmation_link_used_again_changes_nothing(
    client, sale, django_capture_on_commit_callbacks
):
    hot, _ = sale
    order = _placed(_guest(), hot, 1, django_capture_on_commit_callbacks)
    link = _confirm_link(order)
    client.post(link)
    confirmed_at = Order.objects.get(pk=order.pk).confirmed_at
    client.post(link)
    assert Order.objects.get(pk=order.pk).confirmed_at == confirmed_at
    assert order.events.filter(kind=OutboxEvent.Kind.ORDER_CONFIRMED).count() == 1


def test_an_expired_cod_order_cannot_be_confirmed_by_its_link(
    client, sale, django_capture_on_commit_callbacks
):
    hot, _ = sale
    order = _placed(_guest(), hot, 1, django_capture_on_commit_callbacks)
    link = _confirm_link(order)
    _expire_reservations()
    response = client.post(link, follow=True)
    assert f"Order {order.number} is cancelled; it cannot be confirmed." in (
        response.content.decode()
    )
    order.refresh_from_db()
    assert (order.status, order.confirmed_at) == (Order.Status.CANCELLED, None)
    assert _stock(hot) == 1000


@pytest.mark.parametrize("tamper", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), str.upper])
def test_a_forged_confirmation_link_is_a_404_and_confirms_nothing(
    client, sale, django_capture_on_commit_callbacks, tamper
):
    hot, _ = sale
    order = _placed(_guest(), hot, 1, django_capture_on_commit_callbacks)
    token = _confirm_link(order).split("/")[-2]
    assert client.post(f"/orders/confirm/{tamper(token)}/").status_code == 404
    assert Order.objects.get(pk=order.pk).confirmed_at is None


def test_an_operator_confirms_a_cod_order_in_the_admin_and_only_then_ships_it(
    operator_client, sale
):
    hot, _ = sale
    response = _cod(_guest(), {hot: 2})
    order = Order.objects.get(number=response.json()["number"])
    changelist = "/admin/orders/order/"

    def act(action: str) -> list[str]:
        done = operator_client.post(
            changelist, {"action": action, "_selected_action": [order.pk]}, follow=True
        )
        return [message.message for message in done.context["messages"]]

    assert act("mark_shipped") == [
        f"1 order(s) refused, unchanged: Order {order.number} is not confirmed yet; "
        "confirm it before it ships."
    ]
    assert act("confirm_cod") == ["1 order(s) now confirmed."]
    assert _expire_reservations() == 0
    assert act("mark_shipped") == ["1 order(s) now shipped."]
    assert Order.objects.get(pk=order.pk).status == Order.Status.SHIPPED
    assert _stock(hot) == 998


def test_the_storefront_refuses_a_cod_checkout_over_the_cap_and_takes_nothing(client, sale):
    hot, spare = sale
    add_on_storefront(client, hot, 6)
    add_on_storefront(client, spare, 5)
    page = client.get("/orders/checkout/").content.decode()
    assert "Up to 10 units; confirm it within 30 minutes by the link we send you." in page
    response = client.post(
        "/orders/checkout/", checkout_form(client, payment_method="cod", card_token="")
    )
    assert response.status_code == 200
    assert "Cash on delivery is limited to 10 units per order; this order has 11." in (
        response.content.decode()
    )
    assert Order.objects.count() == 0
    assert (_stock(hot), _stock(spare)) == (1000, 1000)
