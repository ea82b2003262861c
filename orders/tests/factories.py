"""Factories for the orders' models: rows as they stand, made without the checkout service.

To test placing an order, go through the API or the storefront (orders/tests/actions.py).
"""

from decimal import Decimal

import factory
from django.conf import settings

from catalog.tests.factories import ProductFactory
from orders.models import (
    GatewayCharge,
    IdempotencyKey,
    Order,
    OrderLine,
    OutboxEvent,
    SaleRecord,
    SentEmail,
)


class OrderFactory(factory.django.DjangoModelFactory):
    """A guest's card order awaiting payment, in the shop's currency, without lines."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"T-{n:06d}")
    email = "ada@example.com"
    payment_method = Order.PaymentMethod.CARD
    shipping_name = "Ada Lovelace"
    shipping_line1 = "12 St James's Square"
    shipping_city = "London"
    shipping_postal_code = "SW1Y 4JH"
    shipping_country = "GB"
    shipping_phone = "+44 20 7946 0958"
    total = Decimal("19.99")
    currency = factory.LazyFunction(lambda: settings.SHOP_CURRENCY)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.SelfAttribute("product.sku")
    title = factory.SelfAttribute("product.title")
    unit_price = factory.SelfAttribute("product.price")
    quantity = 1
    line_total = factory.LazyAttribute(lambda line: line.unit_price * line.quantity)


class IdempotencyKeyFactory(factory.django.DjangoModelFactory):
    """A key still in progress: no response stored yet."""

    class Meta:
        model = IdempotencyKey

    scope = "session:test"
    key = factory.Sequence(lambda n: f"key-{n}")
    request_digest = "0" * 64


class OutboxEventFactory(factory.django.DjangoModelFactory):
    """An undelivered event, never attempted."""

    class Meta:
        model = OutboxEvent

    order = factory.SubFactory(OrderFactory)
    kind = OutboxEvent.Kind.ORDER_PLACED


class SaleRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SaleRecord

    event = factory.SubFactory(OutboxEventFactory)
    order_number = factory.SelfAttribute("event.order.number")
    total = factory.SelfAttribute("event.order.total")
    currency = factory.SelfAttribute("event.order.currency")
    units = 1
    payment_method = factory.SelfAttribute("event.order.payment_method")


class SentEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SentEmail

    event = factory.SubFactory(OutboxEventFactory)
    purpose = "order_confirmation"
    recipient = factory.SelfAttribute("event.order.email")


class GatewayChargeFactory(factory.django.DjangoModelFactory):
    """A successful charge the test gateway recorded for an order number."""

    class Meta:
        model = GatewayCharge

    reference = factory.Sequence(lambda n: f"ch_test_{n:06d}")
    order_number = factory.Sequence(lambda n: f"T-{n:06d}")
    amount = Decimal("19.99")
    currency = factory.LazyFunction(lambda: settings.SHOP_CURRENCY)
    succeeded = True
