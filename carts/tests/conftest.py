import pytest

from catalog.tests.factories import ProductFactory
from shop.accounts.tests.factories import UserFactory


@pytest.fixture
def kettle(db):
    return ProductFactory(title="Copper Kettle", slug="copper-kettle", stock=5)


@pytest.fixture
def mug(db):
    return ProductFactory(title="Stoneware Mug", slug="stoneware-mug", stock=50)


@pytest.fixture
def shopper(db):
    return UserFactory(email="ada@example.com", password="pw-Ada-1234")
