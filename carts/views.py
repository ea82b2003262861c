"""The storefront's cart: the cart page and its forms. Every change is a POST with a CSRF token."""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from carts.inputs import AddItemInput, SetQuantityInput
from carts.selectors import get_cart
from carts.services import add_to_cart, remove_line, set_line_quantity
from shop.customers import Customer
from shop.exceptions import ShopError
from shop.inputs import error_summary
from shop.ratelimits import ratelimit


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """Redirect to the form's `next` (when it is this site's), else to the cart page."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("carts:cart")
    return HttpResponseRedirect(target)


def _run(request: HttpRequest, change: Callable[[], None], success: str) -> HttpResponseRedirect:
    try:
        change()
    except ValidationError as error:
        messages.error(request, error_summary(error.detail))
    except ShopError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, success)
    return _back(request)


def cart(request: HttpRequest) -> HttpResponse:
    return render(request, "carts/cart.html", {"cart": get_cart(customer=Customer.of(request))})


@require_POST
@ratelimit("add_to_cart")
def add(request: HttpRequest) -> HttpResponseRedirect:
    def change() -> None:
        body = AddItemInput(
            data=request.POST.dict() | {"quantity": request.POST.get("quantity", "1")}
        )
        body.is_valid(raise_exception=True)
        add_to_cart(
            customer=Customer.of(request),
            product_pk=body.validated_data["product_id"],
            quantity=body.validated_data["quantity"],
        )

    return _run(request, change, "Added to your cart.")


@require_POST
def update(request: HttpRequest, product_id: str) -> HttpResponseRedirect:
    def change() -> None:
        body = SetQuantityInput(data=request.POST.dict())
        body.is_valid(raise_exception=True)
        set_line_quantity(
            customer=Customer.of(request),
            product_pk=int(product_id),
            quantity=body.validated_data["quantity"],
        )

    return _run(request, change, "Your cart was updated.")


@require_POST
def remove(request: HttpRequest, product_id: str) -> HttpResponseRedirect:
    def change() -> None:
        remove_line(customer=Customer.of(request), product_pk=int(product_id))

    return _run(request, change, "Removed from your cart.")
