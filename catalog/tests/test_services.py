"""Each catalog service owns its transaction: nesting one in another transaction is an error."""

import pytest
from django.db import transaction

from catalog.models import Category, Product
from catalog.services import (
    delete_categories,
    delete_products,
    save_category,
    save_product,
    set_products_active,
)
from catalog.tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

SERVICES = {
    "save_product": lambda: save_product(product=Product.objects.get()),
    "delete_products": lambda: delete_products(products=Product.objects.all()),
    "set_products_active": lambda: set_products_active(
        products=Product.objects.all(), active=False
    ),
    "save_category": lambda: save_category(category=Category.objects.get(slug="empty")),
    "delete_categories": lambda: delete_categories(
        categories=Category.objects.filter(slug="empty")
    ),
}


@pytest.mark.parametrize("service", SERVICES)
def test_a_catalog_service_refuses_to_run_inside_another_transaction(service):
    ProductFactory(stock=4)
    CategoryFactory(slug="empty")
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        SERVICES[service]()
    assert Product.objects.filter(stock=4, is_active=True).count() == 1
    assert Category.objects.filter(slug="empty").exists()
