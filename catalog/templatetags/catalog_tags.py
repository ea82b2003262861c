"""Small presentation helpers for the storefront templates: money, specs, paging links."""

from decimal import Decimal, InvalidOperation

from django import template

from catalog.models import shop_currency

register = template.Library()

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "JPY": "¥"}
TINTS = 6


@register.filter
def money(amount, currency: str = "") -> str:
    """`1299.5|money:"USD"` → "$1,299.50"; an unknown currency is written after the amount."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return ""
    code = (currency or shop_currency()).upper()
    digits = f"{value:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{symbol}{digits}" if symbol else f"{digits} {code}"


@register.filter
def tint(product_id) -> int:
    """A stable 0..5 colour index for an image placeholder."""
    try:
        return int(product_id) % TINTS
    except (TypeError, ValueError):
        return 0


@register.filter
def spec_rows(attributes) -> list[tuple[str, str]]:
    """A product's attributes dict as (label, value) rows: "screen_size" → "Screen size"."""
    if not isinstance(attributes, dict):
        return []
    rows = []
    for key, value in attributes.items():
        label = str(key).replace("_", " ").strip().capitalize()
        if isinstance(value, bool):
            text = "Yes" if value else "No"
        elif isinstance(value, list | tuple):
            text = ", ".join(str(item) for item in value)
        elif value is None:
            text = "—"
        else:
            text = str(value)
        rows.append((label, text))
    return rows


@register.simple_tag(takes_context=True)
def query_replace(context, **changes) -> str:
    """The current query string with `changes` applied (None removes a key), blanks dropped."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value is not None and value != "":
            params[key] = value
    for key in [k for k, values in params.lists() if not any(v != "" for v in values)]:
        del params[key]
    return params.urlencode()


@register.simple_tag
def page_window(current: int, last: int, radius: int = 2) -> list[int | None]:
    """Page numbers to link around `current`, with None where a gap (…) goes: 1 … 4 5 6 … 20."""
    shown = {1, last, *range(max(1, current - radius), min(last, current + radius) + 1)}
    window: list[int | None] = []
    for number in sorted(shown):
        if window and number - window[-1] > 1:
            window.append(None)
        window.append(number)
    return window
