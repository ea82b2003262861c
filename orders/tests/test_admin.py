from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from catalog.models import Product, StockMovement
from catalog.tests.factories import ProductFactory
from orders.models import GatewayCharge, Order, OutboxEvent
from orders.payments import card_gateway
from shop.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"
EVENTS = "/admin/orders/outboxevent/"
ADDRESS = {
    "name": "Ada",
    "line1": "1 Road",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "phone": "+49 30 1234567",
}


def _place(product, *, method="cod", email="a@example.com", quantity=2, token="tok_visa") -> Order:
    """Place an order through the API, as a customer would."""
    client = APIClient()
    response = client.post(
        "/api/v1/cart/items/", {"product_id": product.pk, "quantity": quantity}, format="json"
    )
    assert response.status_code == 200, response.json()
    payment = {"method": "card", "token": token} if method == "card" else {"method": "cod"}
    response = client.post(
        "/api/v1/orders/",
        {"email": email, "shipping_address": ADDRESS, "payment": payment},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return Order.objects.get(number=response.json()["number"])


def _act(client, action: str, *rows, changelist=CHANGELIST) -> list[tuple[str, str]]:
    """Run an admin action on the rows; return the messages it left, as (level, text)."""
    response = client.post(
        changelist,
        {"action": action, "_selected_action": [row.pk for row in rows]},
        follow=True,  # the list shows the messages, so the next request starts with none
    )
    assert response.redirect_chain == [(changelist, 302)]
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def _listed(client, query: str) -> list[str]:
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    return [order.number for order in response.context["cl"].result_list]


@pytest.fixture
def lamp(db):
    return ProductFactory(title="Brass Desk Lamp", sku="LAMP-1", price=Decimal("45.50"), stock=10)


def test_the_order_list_filters_by_status_and_payment_method(operator_client, lamp):
    cod = _place(lamp, method="cod")
    card = _place(lamp, method="card")
    assert _listed(operator_client, "status=paid") == [card.number]
    assert _listed(operator_client, "status=pending_payment") == [cod.number]
    assert _listed(operator_client, "payment_method=cod") == [cod.number]
    assert _listed(operator_client, "payment_method=card") == [card.number]


def test_the_order_list_searches_by_number_and_email(operator_client, lamp):
    ada = _place(lamp, email="ada@example.com")
    bob = _place(lamp, email="bob@example.com")
    assert _listed(operator_client, f"q={ada.number}") == [ada.number]
    assert _listed(operator_client, "q=bob@example.com") == [bob.number]


def test_the_order_list_queries_do_not_grow_with_the_orders(operator_client, lamp):
    _place(lamp)
    with CaptureQueriesContext(connection) as one:
        operator_client.get(CHANGELIST)
    _place(lamp)
    _place(lamp)
    with CaptureQueriesContext(connection) as three:
        operator_client.get(CHANGELIST)
    assert len(three) == len(one)


def test_the_order_page_shows_lines_and_events_and_no_editable_field(operator_client, lamp):
    order = _place(lamp, method="card")
    response = operator_client.get(f"{CHANGELIST}{order.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Brass Desk Lamp" in page
    assert "LAMP-1" in page
    assert "91.00" in page  # the line total and the order total
    assert "Order placed" in page  # its outbox event
    for name in ("total", "status", "email", "lines-0-unit_price", "lines-0-line_total"):
        assert f'name="{name}"' not in page
    assert 'name="_save"' not in page


def test_posting_the_order_form_changes_nothing(operator_client, lamp):
    order = _place(lamp, method="card")
    response = operator_client.post(
        f"{CHANGELIST}{order.pk}/change/",
        {"total": "0.01", "status": "refunded", "email": "mallory@example.com"},
    )
    assert response.status_code == 403
    order.refresh_from_db()
    assert (order.total, order.status, order.email) == (
        Decimal("91.00"),
        Order.Status.PAID,
        "a@example.com",
    )


def test_orders_cannot_be_added_in_the_admin(operator_client):
    assert operator_client.get(f"{CHANGELIST}add/").status_code == 403


def test_mark_shipped_ships_a_paid_order(operator_client, lamp):
    order = _place(lamp, method="card")
    messages = _act(operator_client, "mark_shipped", order)
    assert messages == [("success", "1 order(s) now shipped.")]
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert order.events.filter(kind=OutboxEvent.Kind.ORDER_SHIPPED).count() == 1


def test_mark_shipped_refuses_a_cancelled_order_with_a_warning_and_leaves_it(operator_client, lamp):
    order = _place(lamp, method="card")
    _act(operator_client, "cancel_with_restock", order)
    events_before = order.events.count()
    messages = _act(operator_client, "mark_shipped", order)
    assert messages == [
        (
            "warning",
            f"1 order(s) refused, unchanged: Order {order.number} is cancelled; "
            "it cannot become shipped.",
        )
    ]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.events.count() == events_before


def test_an_action_moves_the_orders_it_may_and_reports_the_others(operator_client, lamp):
    paid = _place(lamp, method="card")
    delivered = _place(lamp, method="card")
    _act(operator_client, "mark_shipped", delivered)
    _act(operator_client, "mark_delivered", delivered)
    messages = _act(operator_client, "cancel_with_restock", paid, delivered)
    assert messages == [
        ("success", "1 order(s) now cancelled."),
        (
            "warning",
            f"1 order(s) refused, unchanged: Order {delivered.number} is delivered; "
            "it cannot become cancelled.",
        ),
    ]
    assert Order.objects.get(pk=paid.pk).status == Order.Status.CANCELLED
    assert Order.objects.get(pk=delivered.pk).status == Order.Status.DELIVERED


def test_cancel_with_restock_returns_the_stock_and_records_the_operator(
    operator_client, operator, lamp, django_capture_on_commit_callbacks
):
    order = _place(lamp, method="card")
    assert Product.objects.get(pk=lamp.pk).stock == 8
    with django_capture_on_commit_callbacks(execute=True):
        _act(operator_client, "cancel_with_restock", order)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert Product.objects.get(pk=lamp.pk).stock == 10
    movement = StockMovement.objects.get(reason=StockMovement.Reason.RETURN)
    assert (movement.product_id, movement.change, movement.reference, movement.actor) == (
        lamp.pk,
        2,
        order.number,
        operator,
    )


def test_refund_of_a_shipped_card_order_returns_no_stock(
    operator_client, lamp, django_capture_on_commit_callbacks
):
    order = _place(lamp, method="card")
    _act(operator_client, "mark_shipped", order)
    with django_capture_on_commit_callbacks(execute=True):
        messages = _act(operator_client, "refund", order)
    assert messages == [("success", "1 order(s) now refunded.")]
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert Product.objects.get(pk=lamp.pk).stock == 8
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.RETURN).exists()
    assert order.events.get(kind=OutboxEvent.Kind.ORDER_REFUNDED).delivered_at is not None


def test_refund_of_a_paid_order_returns_its_stock(operator_client, operator, lamp):
    order = _place(lamp, method="card")
    _act(operator_client, "refund", order)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert Product.objects.get(pk=lamp.pk).stock == 10
    movement = StockMovement.objects.get(reason=StockMovement.Reason.RETURN)
    assert (movement.change, movement.actor) == (2, operator)


@pytest.mark.parametrize("staff", [False, None], ids=["customer", "anonymous"])
def test_non_staff_are_sent_to_the_admin_login(client, lamp, staff):
    if staff is not None:
        user = UserFactory(email="c@example.com", password="pw-c-12345")
        client.force_login(user)
    order = _place(lamp, method="card")
    for url in (CHANGELIST, f"{CHANGELIST}{order.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    response = client.post(CHANGELIST, {"action": "refund", "_selected_action": [order.pk]})
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_the_event_list_filters_delivered_and_undelivered(
    operator_client, lamp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # delivered by the eager task
        delivered = _place(lamp, method="cod")
    waiting = _place(lamp, method="cod")  # its on-commit send never runs here

    def listed(value: str) -> list[int]:
        response = operator_client.get(f"/admin/orders/outboxevent/?delivered={value}")
        assert response.status_code == 200
        return [event.order_id for event in response.context["cl"].result_list]

    assert listed("yes") == [delivered.pk]
    assert listed("no") == [waiting.pk]


@pytest.mark.parametrize("model", ["outboxevent", "salerecord", "idempotencykey"])
def test_order_records_cannot_be_added_in_the_admin(operator_client, model):
    assert operator_client.get(f"/admin/orders/{model}/").status_code == 200
    assert operator_client.get(f"/admin/orders/{model}/add/").status_code == 403


# --- Parked events --------------------------------------------------------------------------


def _parked_cancellation(client, product, settings, capture) -> OutboxEvent:
    """Cancel a paid order whose refund the gateway declines; one attempt parks its event."""
    settings.OUTBOX_MAX_ATTEMPTS = 1
    order = _place(product, method="card", token="tok_refund_declined")
    with capture(execute=True):
        _act(client, "cancel_with_restock", order)
    return OutboxEvent.objects.get(order=order, kind=OutboxEvent.Kind.ORDER_CANCELLED)


def test_a_parked_event_is_listed_under_parked_with_a_badge(
    operator_client, lamp, settings, django_capture_on_commit_callbacks
):
    event = _parked_cancellation(
        operator_client, lamp, settings, django_capture_on_commit_callbacks
    )
    response = operator_client.get(f"{EVENTS}?parked=yes")
    assert [row.pk for row in response.context["cl"].result_list] == [event.pk]
    assert '<span class="outbox-badge outbox-parked">parked</span>' in response.content.decode()
    response = operator_client.get(f"{EVENTS}?parked=no")
    assert event.pk not in [row.pk for row in response.context["cl"].result_list]


def test_an_operator_retries_a_parked_event_and_it_is_delivered(
    operator_client, lamp, settings, django_capture_on_commit_callbacks
):
    event = _parked_cancellation(
        operator_client, lamp, settings, django_capture_on_commit_callbacks
    )
    GatewayCharge.objects.update(refunds_declined=False)  # the gateway's problem is solved
    with django_capture_on_commit_callbacks(execute=True):
        messages = _act(operator_client, "retry_events", event, changelist=EVENTS)
    assert messages == [("success", "1 event(s) queued for delivery again.")]
    event.refresh_from_db()
    assert (event.attempts, event.parked_at) == (2, None)
    assert event.delivered_at is not None
    assert card_gateway().find_charge(reference=event.order.number).refunded is True
    cancelled = f"Your order {event.order.number} was cancelled"
    assert [m.subject for m in mail.outbox].count(cancelled) == 1


def test_retrying_an_event_that_is_not_parked_changes_nothing(
    operator_client, lamp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = _place(lamp, method="cod")
    event = OutboxEvent.objects.get(order=order)
    messages = _act(operator_client, "retry_events", event, changelist=EVENTS)
    assert messages == [
        ("warning", f"1 event(s) not parked, unchanged: order.placed of order {order.number}.")
    ]
    assert OutboxEvent.objects.get(pk=event.pk).attempts == 1
