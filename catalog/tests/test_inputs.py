"""The listing's limits are settings, read when a request is parsed, not when code is imported.

Each test serves a request before it changes the setting, so the code that reads it is loaded.
"""

import pytest

from catalog.selectors import ProductQuery
from catalog.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _search_parameters(api_client) -> dict[str, dict]:
    schema = api_client.get("/api/schema/?format=json").json()
    return {
        parameter["name"]: parameter["schema"]
        for parameter in schema["paths"]["/api/v1/search/"]["get"]["parameters"]
    }


def test_a_changed_page_size_setting_sizes_the_next_listing(api_client, settings):
    ProductFactory.create_batch(3)
    assert len(api_client.get("/api/v1/products/").json()["results"]) == 3
    settings.CATALOG_PAGE_SIZE = 2
    body = api_client.get("/api/v1/products/").json()
    assert len(body["results"]) == 2
    assert body["next"] == "http://testserver/api/v1/products/?page=2"


def test_a_changed_largest_page_size_setting_refuses_a_larger_page(api_client, settings):
    assert api_client.get("/api/v1/products/?page_size=4").status_code == 200
    settings.CATALOG_MAX_PAGE_SIZE = 3
    response = api_client.get("/api/v1/products/?page_size=4")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("page_size: ")


@pytest.mark.parametrize("path", ["/api/v1/products/?q=", "/api/v1/search/?q="])
def test_a_changed_longest_search_setting_refuses_a_longer_search(api_client, settings, path):
    assert api_client.get(f"{path}lampshade").status_code == 200
    settings.SEARCH_MAX_QUERY_LENGTH = 5
    response = api_client.get(f"{path}lampshade")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("q: ")


def test_a_changed_page_size_setting_sizes_a_query_made_without_one(settings):
    settings.CATALOG_PAGE_SIZE = 7
    assert ProductQuery().page_size == 7


def test_the_schema_states_the_limits_the_settings_give(api_client, settings):
    assert _search_parameters(api_client)["q"]["maxLength"] == 200
    settings.SEARCH_MAX_QUERY_LENGTH = 5
    settings.CATALOG_MAX_PAGE_SIZE = 3
    settings.CATALOG_PAGE_SIZE = 2
    parameters = _search_parameters(api_client)
    assert parameters["q"]["maxLength"] == 5
    assert parameters["page_size"]["maximum"] == 3
    assert parameters["page_size"]["default"] == 2
