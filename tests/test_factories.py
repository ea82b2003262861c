"""Every model of the shop's apps has a factory, and each factory makes a row the database takes."""

import pytest
from django.apps import apps

from carts.tests import factories as cart_factories
from catalog.tests import factories as catalog_factories
from orders.tests import factories as order_factories
from shop.accounts.tests import factories as account_factories

FACTORIES = [
    factory
    for module in (account_factories, catalog_factories, cart_factories, order_factories)
    for factory in vars(module).values()
    if isinstance(factory, type)
    and factory.__name__.endswith("Factory")
    and factory.__module__ == module.__name__
]


def test_every_model_of_the_apps_has_a_factory():
    models = {
        model
        for label in ("accounts", "catalog", "carts", "orders")
        for model in apps.get_app_config(label).get_models()
    }
    assert models == {factory._meta.model for factory in FACTORIES}


@pytest.mark.django_db
@pytest.mark.parametrize("factory", FACTORIES, ids=lambda factory: factory.__name__)
def test_a_factory_makes_a_row_the_database_takes(factory):
    made = factory()
    assert type(made).objects.filter(pk=made.pk).exists()
