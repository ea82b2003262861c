"""The shop refuses to start on a currency that does not match what is stored (issue 12)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from orders.models import Order

pytestmark = pytest.mark.django_db


def _order(currency: str) -> Order:
    return Order.objects.create(
        number=f"T-{currency}",
        email="ada@example.com",
        payment_method=Order.PaymentMethod.CARD,
        shipping_name="Ada",
        shipping_line1="1 Road",
        shipping_city="Berlin",
        shipping_postal_code="10115",
        shipping_country="DE",
        shipping_phone="+49 30 1234567",
        total=Decimal("12.99"),
        currency=currency,
    )


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
