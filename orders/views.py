"""The storefront's orders: checkout, the confirmation, the order history, one order, cancelling.

Checkout places the order exactly as the API does: OrderInput validates, place_order_once places
it at most once per idempotency key (a hidden field made when the form is rendered), so a double
click or a resubmitted form orders once and both land on the same confirmation.
"""

import uuid

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from carts.selectors import get_cart
from orders.forms import CheckoutForm
from orders.idempotency import Answer
from orders.models import Order, can_move
from orders.selectors import (
    ORDERS_PER_PAGE,
    get_order_by_confirmation_token,
    get_order_for_customer,
    orders_for_customer,
)
from orders.services import cancel_order, confirm_cod_order, place_order_once
from shop.customers import Customer
from shop.exceptions import ShopError
from shop.ratelimits import client_ip, ratelimit

# A confirmed order in one of these still stands; cancelled or refunded, it no longer does.
CONFIRMED_STATUSES = {Order.Status.PENDING_PAYMENT, Order.Status.SHIPPED, Order.Status.DELIVERED}


def _render_checkout(request: HttpRequest, form: CheckoutForm, key: str) -> HttpResponse:
    cart = get_cart(customer=Customer.of(request))
    cod = {
        "max_units_per_order": settings.COD_MAX_UNITS_PER_ORDER,
        "confirm_minutes": settings.COD_CONFIRM_MINUTES,
    }
    context = {"form": form, "cart": cart, "idempotency_key": key, "cod": cod}
    return render(request, "orders/checkout.html", context)


def _new_key() -> str:
    return str(uuid.uuid4())


@require_http_methods(["GET", "POST"])
@ratelimit("place_order")  # counts POSTs only
def checkout(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        cart = get_cart(customer=Customer.of(request))
        if not cart.items:
            messages.info(request, "Your cart is empty: add something before checking out.")
            return redirect("carts:cart")
        if cart.has_problems:
            messages.error(request, "Some products need your attention before you can check out.")
            return redirect("carts:cart")
        email = request.user.email if request.user.is_authenticated else ""
        form = CheckoutForm(initial={"email": email, "payment_method": Order.PaymentMethod.CARD})
        return _render_checkout(request, form, _new_key())

    form = CheckoutForm(request.POST)
    key = request.POST.get("idempotency_key") or None
    if not form.is_valid() or form.order_input is None:  # nothing tried: the key may be reused
        return _render_checkout(request, form, key or _new_key())

    try:
        answer = place_order_once(
            customer=Customer.of(request),
            details=form.order_input.to_details(),
            idempotency_key=key,
            client_address=client_ip(request),
        )
    except ShopError as error:  # the key itself: reused for another order, or still running
        answer = Answer(error.status_code, {"detail": error.detail})
    if answer.placed:
        return redirect("orders:confirmation", number=answer.body["number"])
    messages.error(request, answer.body["detail"])
    return _render_checkout(request, form, _new_key())  # a new key: fix the form and retry


def confirmation(request: HttpRequest, number: str) -> HttpResponse:
    order = get_order_for_customer(customer=Customer.of(request), number=number)
    return render(request, "orders/confirmation.html", {"order": order})


def history(request: HttpRequest) -> HttpResponse:
    orders = orders_for_customer(customer=Customer.of(request))
    pages = Paginator(orders, ORDERS_PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    return render(
        request,
        "orders/history.html",
        {"orders": page, "page": {"page": page.number, "num_pages": pages.num_pages}},
    )


def detail(request: HttpRequest, number: str) -> HttpResponse:
    order = get_order_for_customer(customer=Customer.of(request), number=number)
    cancellable = can_move(order=order, to=Order.Status.CANCELLED)
    return render(request, "orders/detail.html", {"order": order, "cancellable": cancellable})


@require_POST
def cancel(request: HttpRequest, number: str) -> HttpResponseRedirect:
    customer = Customer.of(request)
    order = get_order_for_customer(customer=customer, number=number)
    try:
        order = cancel_order(order=order, customer=customer)
    except ShopError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, f"Order {order.number} is cancelled.")
    return redirect("orders:detail", number=order.number)


@never_cache  # the page carries a signed link's order: no shared cache may keep it
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: GET shows the cash-on-delivery order, POST confirms it (issue 12).

    Confirming takes a POST, so a mail scanner that follows the link confirms nothing.
    """
    order = get_order_by_confirmation_token(token=token)
    if request.method == "POST":
        try:
            order = confirm_cod_order(order_pk=order.pk)
        except ShopError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, f"Order {order.number} is confirmed.")
        return redirect("orders:confirm", token=token)
    confirmed = order.confirmed_at is not None and order.status in CONFIRMED_STATUSES
    return render(request, "orders/confirm.html", {"order": order, "confirmed": confirmed})
