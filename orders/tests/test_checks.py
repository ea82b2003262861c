"""The shop refuses to start on a currency that does not match what is stored (issue 12)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from orders.models import Order
from orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _order(currency: str) -> Order:
    return OrderFactory(number=f"T-{currency}", currency=currency)


def test_the_check_fails_when_orders_exist_in_another_currency_than_the_shops(settings):
    _order("USD")
    settings.SHOP_CURRENCY = "EUR"
    with pytest.raises(
        SystemCheckError, match=r"orders\.E001.*SHOP_CURRENCY is EUR but orders in USD"
    ):
        call_command("check", "--database", "default", stdout=StringIO())


def test_the_check_passes_when_every_order_is_in_the_shops_currency(settings):
    _order("EUR")
    settings.SHOP_CURRENCY = "EUR"
    call_command("check", "--database", "default", stdout=StringIO())


@pytest.mark.parametrize("code", ["US$", "usd", "ZZZ", ""])
def test_the_check_fails_on_a_shop_currency_that_is_not_iso_4217(settings, code):
    settings.SHOP_CURRENCY = code
    with pytest.raises(SystemCheckError, match=r"catalog\.E001"):
        call_command("check", stdout=StringIO())
