"""A user deleted in bulk from the admin cannot reach the cart with their old token (issue 12).

Before, the cached user outlived the row: the token still authenticated, and a cart add tried to
write a line for a user that no longer existed, which answered 500.
"""

import pytest

from catalog.tests.factories import ProductFactory
from shop.accounts.tests.actions import as_holder, log_in
from shop.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(db):
    return UserFactory(email="ada@example.com", password=PASSWORD)


def test_a_bulk_deleted_users_token_adds_nothing_to_a_cart(
    operator_client, shopper, django_capture_on_commit_callbacks
):
    mug = ProductFactory(stock=5)
    holder = as_holder(log_in(shopper.email))
    assert holder.get("/api/v1/cart/").status_code == 200  # the user is cached from here on
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(
            "/admin/accounts/user/",
            {"action": "delete_selected", "_selected_action": [shopper.pk], "post": "yes"},
        )
    add = holder.post("/api/v1/cart/items/", {"product_id": mug.pk, "quantity": 1})
    assert add.status_code == 401
    assert add.json()["detail"] == "User inactive or deleted."
