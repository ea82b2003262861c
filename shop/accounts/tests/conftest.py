import pytest

from shop.accounts.tests.actions import JSONClient
from shop.accounts.tests.factories import UserFactory


@pytest.fixture
def api_client() -> JSONClient:
    return JSONClient()


@pytest.fixture
def shopper(db):
    return UserFactory(email="ada@example.com")
