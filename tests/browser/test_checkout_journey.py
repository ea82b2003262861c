"""Checkout in a real browser, with no JavaScript of the shop's own: every step is a form POST.

A guest fills a cart, signs up, pays by card, orders again cash on delivery, finds both orders in
the history, cancels one, and sees a declined card explained.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from catalog.models import Product
from orders.models import Order
from tests.browser.journeys import fill_sign_up

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.timeout(180),
]


def add_on_product_page(page: Page, url: str, slug: str, quantity: int) -> None:
    page.goto(f"{url}/p/{slug}/")
    page.get_by_label("Quantity").fill(str(quantity))
    page.locator(".product-actions").get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("status")).to_contain_text("Added to your cart.")


def go_to_checkout(page: Page, url: str) -> None:
    page.goto(f"{url}/cart/")
    page.get_by_role("main").get_by_role("link", name="Checkout").click()
    expect(page).to_have_url(f"{url}/orders/checkout/")
    expect(page.get_by_role("heading", name="Checkout", exact=True)).to_be_visible()


def fill_address(page: Page) -> None:
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Street and number").fill("12 Analytical Row")
    page.get_by_label("Postal code").fill("N1 9GU")
    page.get_by_label("City").fill("London")
    page.get_by_label("Country").fill("GB")
    page.get_by_label("Phone").fill("+44 20 7946 0000")


def pay_by_card(page: Page, token: str) -> None:
    page.get_by_role("radio", name="Card").check()
    page.get_by_label("Card token").fill(token)


def place_order(page: Page) -> None:
    page.get_by_role("button", name=re.compile(r"^Place order")).click()


def test_a_new_customer_orders_by_card_and_cash_cancels_one_and_sees_a_declined_card(
    live_server, page, screenshot, products
):
    kettle, pan, _ = products
    url = live_server.url
    add_on_product_page(page, url, "copper-kettle", 2)

    fill_sign_up(page, url, "new.shopper@example.com")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{url}/cart/")

    # 1. Card: tok_visa is charged.
    go_to_checkout(page, url)
    expect(page.get_by_label("E-mail")).to_have_value("new.shopper@example.com")
    expect(page.locator(".checkout-review")).to_contain_text("Copper Kettle")
    expect(page.locator(".checkout-review")).to_contain_text("$99.00")
    expect(page.get_by_text("tok_visa is charged, tok_declined is declined")).to_be_visible()
    fill_address(page)
    pay_by_card(page, "tok_visa")
    screenshot("20-checkout")
    place_order(page)

    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    card_order = Order.objects.get(payment_method="card")
    expect(page).to_have_url(f"{url}/orders/{card_order.number}/confirmation/")
    expect(page.get_by_role("main")).to_contain_text(card_order.number)
    expect(page.locator(".order-status-line")).to_contain_text("Paid")
    expect(page.locator(".order-address")).to_contain_text("12 Analytical Row")
    expect(page.get_by_role("banner").get_by_role("link", name="Cart, 0 items")).to_be_visible()
    screenshot("21-confirmation")
    assert Product.objects.get(pk=kettle.pk).stock == 6

    # 2. Cash on delivery: placed now, paid at the door.
    add_on_product_page(page, url, "cast-iron-pan", 1)
    go_to_checkout(page, url)
    fill_address(page)
    page.get_by_role("radio", name="Cash on delivery").check()
    expect(page.get_by_label("Card token")).to_be_hidden()
    place_order(page)
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    cash_order = Order.objects.get(payment_method="cod")
    expect(page.get_by_role("main")).to_contain_text(cash_order.number)
    expect(page.locator(".order-payment")).to_have_text("Cash on delivery")

    # 3. The history: both orders, newest first.
    page.get_by_role("link", name="Your orders").click()
    expect(page).to_have_url(f"{url}/orders/")
    rows = page.locator(".order-history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(cash_order.number)
    expect(rows.nth(0)).to_contain_text("Pay on delivery")
    expect(rows.nth(1)).to_contain_text(card_order.number)
    expect(rows.nth(1)).to_contain_text("Paid")
    screenshot("22-history")

    # 4. Cancel the cash order: its stock comes back.
    page.get_by_role("link", name=cash_order.number).click()
    expect(page).to_have_url(f"{url}/orders/{cash_order.number}/")
    page.get_by_role("button", name="Cancel order").click()
    expect(page.get_by_role("status")).to_contain_text(f"Order {cash_order.number} is cancelled.")
    expect(page.locator(".order-status-line")).to_contain_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
    screenshot("23-cancelled")
    assert Product.objects.get(pk=pan.pk).stock == 5

    # 5. A declined card: a clear message, the form kept, nothing ordered.
    add_on_product_page(page, url, "copper-kettle", 1)
    go_to_checkout(page, url)
    fill_address(page)
    pay_by_card(page, "tok_declined")
    place_order(page)
    expect(page).to_have_url(f"{url}/orders/checkout/")
    expect(page.locator(".message-error")).to_have_text(
        "Your card was declined. Nothing was ordered."
    )
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    expect(page.locator(".checkout-review")).to_contain_text("Copper Kettle")
    screenshot("24-declined")
    assert Order.objects.count() == 2
    assert Product.objects.get(pk=kettle.pk).stock == 6
