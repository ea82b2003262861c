"""System checks that read orders: none is in another currency than the shop's (issue 12)."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DEFAULT_DB_ALIAS, connections

from orders.models import Order


@register(Tags.database)
def check_orders_in_shop_currency(
    app_configs: Sequence[AppConfig] | None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[Error]:
    """Every order must be in SHOP_CURRENCY, the currency the catalog's prices are read in.

    An order in another currency means the setting changed under a catalog priced in the old
    one: 12.99 entered as dollars would now be charged as 12.99 euros. Run by `migrate` and by
    `check --database default`.
    """
    if not databases or DEFAULT_DB_ALIAS not in databases:
        return []
    connection = connections[DEFAULT_DB_ALIAS]
    if Order._meta.db_table not in connection.introspection.table_names():
        return []  # not migrated yet: no orders
    currency = settings.SHOP_CURRENCY
    others = sorted(
        Order.objects.using(DEFAULT_DB_ALIAS)
        .exclude(currency=currency)
        .values_list("currency", flat=True)
        .distinct()[:5]
    )
    if not others:
        return []
    return [
        Error(
            f"SHOP_CURRENCY is {currency} but orders in {', '.join(others)} exist: the catalog's "
            f"prices were probably entered in {others[0]}.",
            hint=f"Set SHOP_CURRENCY back to {others[0]}, or re-price the catalog in {currency} "
            "and then silence orders.E001 (SILENCED_SYSTEM_CHECKS).",
            obj=Order,
            id="orders.E001",
        )
    ]
