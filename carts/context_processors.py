from django.conf import settings
from django.utils.functional import SimpleLazyObject

from carts.selectors import count_items


def cart_summary(request) -> dict:
    """Give every page the cart's unit count for the header (read only if a page shows it)."""
    return {
        "cart_count": SimpleLazyObject(
            lambda: count_items(user=request.user, session=getattr(request, "session", None))
        ),
        "cart_line_max": settings.CART_LINE_MAX_QUANTITY,
    }
