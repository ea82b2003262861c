from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from catalog.models import shop_currency
from catalog.selectors import get_category_tree


def storefront(request: HttpRequest) -> dict[str, Any]:
    """Give every storefront page the category menu (read only if a page shows it)."""
    return {
        "menu_categories": SimpleLazyObject(get_category_tree),
        "shop_currency": shop_currency(),
    }
