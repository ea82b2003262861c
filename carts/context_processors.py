from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from carts.selectors import count_items
from shop.customers import Customer


def cart_summary(request: HttpRequest) -> dict[str, object]:
    """Give every page the cart's unit count for the header (read only if a page shows it), and
    where the add-to-cart forms post: resolved once, not once per product card."""
    return {
        "cart_add_url": reverse("carts:add"),
        "cart_count": SimpleLazyObject(lambda: count_items(customer=Customer.of(request))),
        "cart_line_max": settings.CART_LINE_MAX_QUANTITY,
    }
