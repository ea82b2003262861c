"""Pages under the shop's Content-Security-Policy in a real browser: nothing they need is blocked
(issue 12). Chromium reports each blocked script, style or file on the console."""

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import ProductFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.timeout(180),
]


@pytest.fixture
def violations(page) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def test_the_api_docs_render_from_this_origin_under_the_policy(live_server, page, violations):
    page.goto(f"{live_server.url}/api/docs/")

    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10
    assert violations == []


def test_the_storefront_and_the_product_admin_render_under_the_policy(
    live_server, page, violations, operator
):
    ProductFactory(slug="copper-kettle", title="Copper Kettle", stock=0)
    page.goto(f"{live_server.url}/")
    page.goto(f"{live_server.url}/p/copper-kettle/")
    expect(page.get_by_role("heading", name="Copper Kettle")).to_be_visible()

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops@shop.test")
    page.fill("#id_password", "pw-ops-1")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/catalog/product/")

    expect(page.locator(".stock-out")).to_have_css("color", "rgb(186, 33, 33)")
    assert violations == []
