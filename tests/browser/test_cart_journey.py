"""The cart in a real browser, with no JavaScript of the shop's own: every change is a form POST.

A guest fills a cart, changes a quantity, then signs up or signs in and finds the cart merged.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from carts.services import add_to_cart
from shop.accounts.tests.factories import UserFactory
from shop.customers import Customer
from tests.browser.journeys import PASSWORD, fill_sign_up

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.timeout(180),
]


def header_cart(page: Page):
    return page.get_by_role("banner").get_by_role("link", name=re.compile(r"^Cart, "))


def cart_line(page: Page, title: str):
    return page.locator(".cart-line").filter(has=page.get_by_role("heading", name=title))


def quantity_of(page: Page, title: str):
    """The quantity input of a cart line."""
    return cart_line(page, title).get_by_label(f"Quantity of {title}")


def add_on_product_page(page: Page, url: str, slug: str, quantity: int) -> None:
    page.goto(f"{url}/p/{slug}/")
    page.get_by_label("Quantity").fill(str(quantity))
    page.locator(".product-actions").get_by_role("button", name="Add to cart").click()


def test_a_guest_fills_a_cart_changes_a_quantity_and_keeps_it_on_signing_up(
    live_server, page, screenshot, products
):
    page.goto(live_server.url + "/cart/")
    expect(page.get_by_role("heading", name="Your cart is empty")).to_be_visible()
    expect(header_cart(page)).to_have_accessible_name("Cart, 0 items")

    add_on_product_page(page, live_server.url, "copper-kettle", 2)
    expect(page).to_have_url(live_server.url + "/p/copper-kettle/")
    expect(page.get_by_role("status")).to_contain_text("Added to your cart.")
    expect(header_cart(page)).to_have_accessible_name("Cart, 2 items")
    expect(header_cart(page)).to_contain_text("2")
    screenshot("10-product-added")

    add_on_product_page(page, live_server.url, "stoneware-mugs", 3)  # only 2 in stock
    expect(page).to_have_url(live_server.url + "/p/stoneware-mugs/")
    expect(page.get_by_role("status")).to_contain_text("Only 2 of 'Stoneware Mugs' left")
    expect(page.locator(".message-error")).to_be_visible()
    expect(header_cart(page)).to_have_accessible_name("Cart, 2 items")
    screenshot("11-over-stock")

    header_cart(page).click()
    expect(page).to_have_url(live_server.url + "/cart/")
    kettle = cart_line(page, "Copper Kettle")
    expect(quantity_of(page, "Copper Kettle")).to_have_value("2")
    expect(kettle.locator(".cart-line-total")).to_contain_text("$99.00")
    expect(page.locator(".cart-line")).to_have_count(1)
    screenshot("12-cart-guest")

    quantity_of(page, "Copper Kettle").fill("3")
    kettle.get_by_role("button", name="Update Copper Kettle").click()
    expect(page.get_by_role("status")).to_contain_text("Your cart was updated.")
    expect(header_cart(page)).to_have_accessible_name("Cart, 3 items")
    expect(quantity_of(page, "Copper Kettle")).to_have_value("3")
    expect(kettle.locator(".cart-line-total")).to_contain_text("$148.50")
    expect(page.locator(".cart-grand-total")).to_contain_text("$148.50")
    screenshot("13-cart-updated")

    fill_sign_up(page, live_server.url, "new.shopper@example.com")
    screenshot("14-register")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(live_server.url + "/cart/")
    expect(page.get_by_role("status")).to_contain_text("Welcome!")
    expect(page.get_by_role("banner")).to_contain_text("new.shopper@example.com")
    expect(header_cart(page)).to_have_accessible_name("Cart, 3 items")
    expect(quantity_of(page, "Copper Kettle")).to_have_value("3")
    expect(kettle.locator(".cart-line-total")).to_contain_text("$148.50")
    screenshot("15-cart-merged")


def test_signing_in_merges_the_guest_cart_into_the_account_cart(
    live_server, page, screenshot, products
):
    kettle, _pan, _mugs = products
    user = UserFactory(email="regular@example.com", password=PASSWORD)
    add_to_cart(customer=Customer(user=user, session=None), product_pk=kettle.pk, quantity=1)

    add_on_product_page(page, live_server.url, "copper-kettle", 2)
    expect(header_cart(page)).to_have_accessible_name("Cart, 2 items")
    page.goto(live_server.url + "/c/kitchen/")
    page.get_by_role("button", name="Add to cart Cast Iron Pan").click()
    expect(page).to_have_url(live_server.url + "/c/kitchen/")
    expect(header_cart(page)).to_have_accessible_name("Cart, 3 items")

    header_cart(page).click()
    expect(quantity_of(page, "Copper Kettle")).to_have_value("2")
    expect(quantity_of(page, "Cast Iron Pan")).to_have_value("1")
    screenshot("16-cart-before-sign-in")

    page.goto(live_server.url + "/accounts/login/?next=/cart/")
    page.get_by_label("E-mail").fill("regular@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(live_server.url + "/cart/")
    expect(header_cart(page)).to_have_accessible_name("Cart, 4 items")
    expect(quantity_of(page, "Copper Kettle")).to_have_value("3")
    expect(quantity_of(page, "Cast Iron Pan")).to_have_value("1")
    expect(page.locator(".cart-grand-total")).to_contain_text("$183.50")
    screenshot("17-cart-signed-in")
