"""Factories for the carts' SQL rows (the copy Redis is rebuilt from, carts/store.py)."""

import factory

from carts.models import Cart, CartLine
from catalog.tests.factories import ProductFactory


class CartFactory(factory.django.DjangoModelFactory):
    """A guest's cart; `owner=user` makes an account's."""

    class Meta:
        model = Cart


class CartLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    price_when_added = factory.SelfAttribute("product.price")
