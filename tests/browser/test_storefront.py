"""The storefront in a real browser: home → category → product → search, and a 404."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import CategoryFactory, ProductFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.timeout(180),
]


@pytest.fixture
def catalog():
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    cookware = CategoryFactory(name="Cookware", slug="cookware", parent=kitchen)
    kettle = ProductFactory(
        category=cookware,
        slug="copper-kettle",
        title="Copper Kettle",
        brand="Hearth",
        description="Boils a litre in three minutes.\n\nHand-finished copper.",
        price=Decimal("49.50"),
        stock=3,
        attributes={"capacity_l": 1.2, "material": "Copper"},
    )
    ProductFactory(category=cookware, title="Cast Iron Pan", brand="Forge", price=Decimal("35.00"))
    ProductFactory(
        category=kitchen,
        title="Oak Chopping Board",
        brand="Grain",
        price=Decimal("1250.00"),
        stock=0,
    )
    return kettle


def test_a_shopper_browses_a_category_opens_a_product_and_searches(
    live_server, page, screenshot, catalog
):
    page.goto(live_server.url + "/")
    expect(page).to_have_title(re.compile("Home · Shop"))
    featured = page.locator("section", has=page.get_by_role("heading", name="Featured products"))
    expect(featured.get_by_role("link", name="Copper Kettle")).to_be_visible()
    cards = featured.get_by_role("article")
    expect(cards.filter(has_text="Copper Kettle")).to_contain_text("$49.50")
    expect(cards.filter(has_text="Oak Chopping Board")).to_contain_text("$1,250.00")
    screenshot("01-home")

    page.locator("#categories").get_by_role("link", name="Kitchen", exact=True).click()
    expect(page).to_have_url(live_server.url + "/c/kitchen/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kitchen")
    expect(page.locator(".result-count")).to_have_text("3 products")
    expect(page.get_by_role("link", name="Cookware", exact=True).first).to_be_visible()
    expect(page.get_by_role("article").filter(has_text="Oak Chopping Board")).to_contain_text(
        "Out of stock"
    )
    screenshot("02-category")

    page.get_by_role("link", name="Copper Kettle").click()
    expect(page).to_have_url(live_server.url + "/p/copper-kettle/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Copper Kettle")
    expect(page.locator(".product-price")).to_contain_text("$49.50")
    expect(page.locator(".product-stock")).to_have_text("Only 3 left")
    expect(page.locator(".prose")).to_contain_text("Hand-finished copper.")
    expect(page.get_by_role("row", name="Capacity l 1.2")).to_be_visible()
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text("Kitchen")
    screenshot("03-product")

    search = page.get_by_role("searchbox", name="Search products").first
    search.fill("kettle")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=kettle$"))
    expect(page.locator(".result-count")).to_have_text("1 result for “kettle”")
    expect(page.get_by_role("link", name="Copper Kettle")).to_be_visible()
    expect(page.get_by_role("link", name="Cast Iron Pan")).to_have_count(0)
    screenshot("04-search")


def test_an_unknown_product_shows_the_404_page(live_server, page, screenshot):
    response = page.goto(live_server.url + "/p/no-such-thing/")

    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("find that page"))
    expect(page.get_by_role("link", name="Back to the home page")).to_be_visible()
    screenshot("05-not-found")
