"""System checks of the catalog's settings: the shop's one currency is a real one (issue 12)."""

import pycountry
from django.conf import settings
from django.core.checks import Error, register


@register()
def check_shop_currency(app_configs, **kwargs) -> list[Error]:
    """SHOP_CURRENCY must be an ISO 4217 code: every price, cart, order and charge uses it."""
    code = settings.SHOP_CURRENCY
    if isinstance(code, str) and code.isupper() and pycountry.currencies.get(alpha_3=code):
        return []
    return [
        Error(
            f"SHOP_CURRENCY is {code!r}, not an ISO 4217 currency code.",
            hint="Set SHOP_CURRENCY to an upper-case three-letter code such as USD or EUR.",
            id="catalog.E001",
        )
    ]
