import pytest

from catalog.tests.factories import ProductFactory


@pytest.fixture
def lamp(db):
    return ProductFactory(title="Brass Desk Lamp", sku="LAMP-1", price="45.50", stock=8)


@pytest.fixture
def rug(db):
    return ProductFactory(title="Wool Rug", sku="RUG-1", price="120.00", stock=3)
