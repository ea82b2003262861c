import pytest
from django.contrib.auth import authenticate, get_user_model

pytestmark = pytest.mark.django_db


def test_users_sign_in_with_their_email_case_insensitively():
    get_user_model().objects.create_user(email="Ada@Example.COM", password="s3cret-pass")
    user = authenticate(email=" ADA@example.com", password="s3cret-pass")
    assert user is not None
    assert user.email == "ada@example.com"


def test_an_email_is_required():
    with pytest.raises(ValueError, match="e-mail address is required"):
        get_user_model().objects.create_user(email="", password="x")


def test_the_admin_refuses_a_shopper(client):
    shopper = get_user_model().objects.create_user(email="s@example.com", password="pw-123456")
    client.force_login(shopper)
    response = client.get("/admin/catalog/product/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_operator_sees_the_product_admin(operator_client):
    response = operator_client.get("/admin/catalog/product/")
    assert response.status_code == 200
