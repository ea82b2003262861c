import pytest
from django.test import Client

from carts.models import CartLine

pytestmark = pytest.mark.django_db


def test_the_add_form_puts_units_in_the_cart_and_returns_to_the_page(client, kettle):
    response = client.post(
        "/cart/add/", {"product_id": kettle.pk, "quantity": "2", "next": "/p/copper-kettle/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/p/copper-kettle/"
    page = client.get("/cart/").content.decode()
    assert "Copper Kettle" in page
    assert "39.98" in page


def test_the_header_shows_the_cart_count_on_every_page(client, kettle):
    client.post("/cart/add/", {"product_id": kettle.pk, "quantity": "3"})
    for url in ("/", "/p/copper-kettle/", "/search/?q=kettle", "/cart/"):
        assert "Cart, 3 items" in client.get(url).content.decode()


def test_the_cart_page_updates_and_removes_lines(client, kettle, mug):
    client.post("/cart/add/", {"product_id": kettle.pk, "quantity": "1"})
    client.post("/cart/add/", {"product_id": mug.pk, "quantity": "1"})
    client.post(f"/cart/update/{kettle.pk}/", {"quantity": "4"})
    client.post(f"/cart/remove/{mug.pk}/")
    assert dict(CartLine.objects.values_list("product__title", "quantity")) == {"Copper Kettle": 4}


def test_an_over_stock_add_shows_why_and_changes_nothing(client, kettle):
    response = client.post("/cart/add/", {"product_id": kettle.pk, "quantity": "9"}, follow=True)
    assert (
        "Only 5 of &#x27;Copper Kettle&#x27; left; your cart holds 0." in response.content.decode()
    )
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("quantity", ["abc", "-1", "2.5", "", "11", "99999999999999999999"])
def test_a_bad_quantity_shows_a_message_and_changes_nothing(client, kettle, quantity):
    client.post("/cart/add/", {"product_id": kettle.pk, "quantity": "1"})
    response = client.post(f"/cart/update/{kettle.pk}/", {"quantity": quantity}, follow=True)
    assert response.status_code == 200
    assert "quantity:" in response.content.decode()
    assert CartLine.objects.get().quantity == 1


def test_cart_forms_refuse_a_post_without_a_csrf_token(kettle):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/cart/add/", {"product_id": kettle.pk, "quantity": "1"}).status_code == 403
    assert not CartLine.objects.exists()


def test_cart_forms_take_only_posts(client, kettle):
    assert client.get(f"/cart/remove/{kettle.pk}/").status_code == 405


def test_a_next_address_off_the_site_is_ignored(client, kettle):
    response = client.post(
        "/cart/add/", {"product_id": kettle.pk, "quantity": "1", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/cart/"
