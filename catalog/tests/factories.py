"""Factories for the catalog's models."""

from decimal import Decimal

import factory

from catalog.models import Category, Product, StockMovement


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    brand = "Acme"
    description = "A thing worth having."
    price = Decimal("19.99")
    stock = 10


class StockMovementFactory(factory.django.DjangoModelFactory):
    """A recorded change to a product's stock (the row only: the stock itself is not moved)."""

    class Meta:
        model = StockMovement

    product = factory.SubFactory(ProductFactory)
    change = -1
    reason = StockMovement.Reason.SALE
