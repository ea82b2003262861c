from decimal import Decimal

import pytest
import yaml

from carts.models import CartLine
from carts.tests.actions import add, lines
from catalog.services import save_product

pytestmark = pytest.mark.django_db


def test_an_empty_cart_has_the_contract_shape(api_client):
    assert api_client.get("/api/v1/cart/").json() == {
        "items": [],
        "item_count": 0,
        "total": "0.00",
        "currency": "USD",
    }


def test_adding_returns_the_cart_with_priced_lines(api_client, kettle):
    response = add(api_client, kettle, 2)
    assert response.status_code == 200
    body = response.json()
    assert body["item_count"] == 2
    assert body["total"] == "39.98"
    assert body["currency"] == "USD"
    item = body["items"][0]
    assert {
        k: item[k] for k in ("product_id", "title", "unit_price", "quantity", "line_total")
    } == {
        "product_id": kettle.pk,
        "title": "Copper Kettle",
        "unit_price": "19.99",
        "quantity": 2,
        "line_total": "39.98",
    }


def test_adding_again_increments_the_line(api_client, kettle):
    add(api_client, kettle, 2)
    add(api_client, kettle, 1)
    assert lines(api_client) == {"Copper Kettle": 3}


def test_patch_sets_the_quantity_and_zero_removes(api_client, kettle, mug):
    add(api_client, kettle, 2)
    add(api_client, mug, 1)
    assert (
        api_client.patch(
            f"/api/v1/cart/items/{kettle.pk}/", {"quantity": 4}, format="json"
        ).status_code
        == 200
    )
    assert lines(api_client) == {"Copper Kettle": 4, "Stoneware Mug": 1}
    api_client.patch(f"/api/v1/cart/items/{mug.pk}/", {"quantity": 0}, format="json")
    assert lines(api_client) == {"Copper Kettle": 4}


def test_delete_removes_the_line(api_client, kettle):
    add(api_client, kettle, 2)
    assert api_client.delete(f"/api/v1/cart/items/{kettle.pk}/").json()["items"] == []
    assert not CartLine.objects.exists()


def test_changing_a_line_not_in_the_cart_is_a_404(api_client, kettle, mug):
    add(api_client, mug, 1)
    for response in (
        api_client.patch(f"/api/v1/cart/items/{kettle.pk}/", {"quantity": 2}, format="json"),
        api_client.delete(f"/api/v1/cart/items/{kettle.pk}/"),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == "Your cart holds no such product."
    assert lines(api_client) == {"Stoneware Mug": 1}


def test_the_cart_cannot_hold_more_than_the_stock(api_client, kettle):
    add(api_client, kettle, 3)
    response = add(api_client, kettle, 3)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Only 5 of 'Copper Kettle' left; your cart holds 3.",
        "code": "not_enough_stock",
    }
    assert lines(api_client) == {"Copper Kettle": 3}
    assert CartLine.objects.get().quantity == 3


def test_an_out_of_stock_product_cannot_be_added(api_client, kettle):
    kettle.stock = 0
    kettle.save()
    response = add(api_client, kettle, 1)
    assert response.status_code == 409
    assert response.json()["detail"] == "'Copper Kettle' is out of stock."


def test_a_line_cannot_pass_the_line_maximum(api_client, mug, settings):
    assert settings.CART_LINE_MAX_QUANTITY == 10
    add(api_client, mug, 6)
    response = add(api_client, mug, 6)
    assert response.status_code == 409
    assert response.json()["detail"] == "At most 10 of 'Stoneware Mug' per cart; your cart holds 6."
    assert lines(api_client) == {"Stoneware Mug": 6}


def test_a_quantity_past_the_line_maximum_is_a_400_as_the_setting_reads(
    api_client, kettle, settings
):
    api_client.get("/api/v1/cart/")  # the API's modules are imported before the setting changes
    settings.CART_LINE_MAX_QUANTITY = 3
    response = add(api_client, kettle, 4)
    assert (response.status_code, response.json()["detail"]) == (
        400,
        "quantity: Ensure this value is less than or equal to 3.",
    )
    assert lines(api_client) == {}


def test_the_schema_states_the_line_maximum_as_the_setting_reads(api_client, settings):
    api_client.get("/api/v1/cart/")
    settings.CART_LINE_MAX_QUANTITY = 3
    schema = yaml.safe_load(api_client.get("/api/schema/").content)
    components = schema["components"]["schemas"]
    assert components["AddItemInputRequest"]["properties"]["quantity"]["maximum"] == 3
    assert components["SetQuantityInputRequest"]["properties"]["quantity"]["maximum"] == 3


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"product_id": "PK", "quantity": "abc"}, "quantity: A whole number is required."),
        ({"quantity": 0}, "quantity: Ensure this value is greater than or equal to 1."),
        ({"quantity": -2}, "quantity: Ensure this value is greater than or equal to 1."),
        ({"quantity": 2.5}, "quantity: A whole number is required."),
        ({"quantity": 2.0}, "quantity: A whole number is required."),
        ({"quantity": "1e3"}, "quantity: A whole number is required."),
        ({"quantity": True}, "quantity: A whole number is required."),
        ({"quantity": 10**30}, "quantity: Ensure this value is less than or equal to 10."),
        ({"quantity": None}, "quantity: This field may not be null."),
        ({"quantity": [1]}, "quantity: A whole number is required."),
        ({"product_id": "PK"}, "quantity: This field is required."),
        ({"product_id": None, "quantity": 1}, "product_id: This field may not be null."),
        ({"product_id": "kettle", "quantity": 1}, "product_id: A whole number is required."),
        (
            {"product_id": 10**30, "quantity": 1},
            "product_id: Ensure this value is less than or equal to 9223372036854775807.",
        ),
    ],
)
def test_bad_add_input_is_a_400_and_changes_nothing(api_client, kettle, mug, body, detail):
    add(api_client, mug, 1)
    body = {"product_id": kettle.pk, **body}
    if body["product_id"] == "PK":
        body["product_id"] = kettle.pk
    response = api_client.post("/api/v1/cart/items/", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert lines(api_client) == {"Stoneware Mug": 1}


def test_an_unknown_product_is_refused(api_client):
    response = api_client.post(
        "/api/v1/cart/items/", {"product_id": 999999, "quantity": 1}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Product 999999 does not exist or is not for sale.",
        "code": "product_unavailable",
    }
    assert lines(api_client) == {}


def test_an_inactive_product_is_refused(api_client, kettle):
    kettle.is_active = False
    kettle.save()
    response = add(api_client, kettle, 1)
    assert response.status_code == 400
    assert response.json()["code"] == "product_unavailable"


def test_malformed_json_is_a_400(api_client, mug):
    add(api_client, mug, 1)
    response = api_client.post(
        "/api/v1/cart/items/", '{"product_id": 1,', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert lines(api_client) == {"Stoneware Mug": 1}


def test_the_wrong_content_type_is_a_415(api_client, kettle):
    response = api_client.post(
        "/api/v1/cart/items/",
        f"product_id={kettle.pk}&quantity=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]
    assert lines(api_client) == {}


def test_a_path_product_id_too_big_for_the_database_is_a_404(api_client):
    response = api_client.patch(
        "/api/v1/cart/items/1234567890123456789012/", {"quantity": 1}, format="json"
    )
    assert response.status_code == 404


def test_a_price_change_since_adding_is_flagged(
    api_client, kettle, django_capture_on_commit_callbacks
):
    add(api_client, kettle, 1)
    kettle.price = Decimal("24.50")
    with django_capture_on_commit_callbacks(execute=True):
        save_product(product=kettle, fields=["price"])
    item = api_client.get("/api/v1/cart/").json()["items"][0]
    assert item["unit_price"] == "24.50"
    assert item["price_when_added"] == "19.99"
    assert item["price_changed"] is True
    assert item["problem"] == "The price rose from 19.99 since you added it."


def test_a_line_that_went_out_of_stock_is_flagged(
    api_client, kettle, django_capture_on_commit_callbacks
):
    add(api_client, kettle, 2)
    kettle.stock = 0
    with django_capture_on_commit_callbacks(execute=True):
        save_product(product=kettle, fields=["stock"])
    item = api_client.get("/api/v1/cart/").json()["items"][0]
    assert item["in_stock"] is False
    assert item["problem"] == "Out of stock since you added it."


def test_two_shoppers_never_see_each_others_cart(kettle, mug):
    from rest_framework.test import APIClient

    first, second = APIClient(), APIClient()
    add(first, kettle, 2)
    add(second, mug, 1)
    assert lines(first) == {"Copper Kettle": 2}
    assert lines(second) == {"Stoneware Mug": 1}
    assert lines(APIClient()) == {}


def test_token_clients_have_their_own_cart(api_client, shopper, kettle):
    from shop.accounts.tokens import issue_token

    token = issue_token(user=shopper)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    add(api_client, kettle, 2)
    assert lines(api_client) == {"Copper Kettle": 2}
    assert CartLine.objects.get().cart.owner == shopper
