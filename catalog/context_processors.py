from django.conf import settings
from django.utils.functional import SimpleLazyObject

from catalog.selectors import get_category_tree


def storefront(request) -> dict:
    """Give every storefront page the category menu (read only if a page shows it)."""
    return {
        "menu_categories": SimpleLazyObject(get_category_tree),
        "shop_currency": settings.SHOP_CURRENCY,
    }
