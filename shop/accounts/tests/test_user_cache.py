"""The signed-in user served from the cache (shop/accounts/backends.py) holds no password hash."""

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django_redis import get_redis_connection

from shop.accounts.cache import user_key
from shop.accounts.tests.actions import sign_in_by_session
from shop.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_cached_user_in_redis_holds_no_password_hash(redis_cache, api_client, shopper):
    sign_in_by_session(api_client, shopper.email)
    assert api_client.get("/api/v1/auth/me/").status_code == 200  # the user is now cached
    raw = get_redis_connection("default").get(cache.make_and_validate_key(user_key(shopper.pk)))
    algorithm, *_, password_hash = shopper.password.split("$")
    assert raw is not None
    assert password_hash.encode() not in raw
    assert f"{algorithm}$".encode() not in raw


def test_a_session_whose_user_is_cached_runs_no_query_for_the_user(
    api_client, shopper, django_assert_num_queries
):
    sign_in_by_session(api_client, shopper.email)
    assert api_client.get("/api/v1/auth/me/").status_code == 200  # the user is now cached
    with django_assert_num_queries(0):
        response = api_client.get("/api/v1/auth/me/")
    assert response.json()["email"] == shopper.email


def test_a_cached_staff_user_keeps_the_permissions_granted_to_it(client, django_user_model):
    staff = django_user_model.objects.create_user(
        email="staff@shop.test", password=PASSWORD, is_staff=True
    )
    staff.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200  # the user is now cached
    assert client.get("/admin/catalog/product/").status_code == 200
    assert client.get("/admin/catalog/category/").status_code == 403
