"""A real Chromium for the storefront smoke tests: one browser per module, one page per test."""

import os
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.tests.factories import CategoryFactory, ProductFactory
from tests.fixtures import service_unavailable

# Playwright's sync API runs an event loop in this thread, which trips Django's async-safety
# check on every ORM call made by the test itself (factories, assertions).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        service_unavailable(f"needs Debian's chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot(page):
    """`screenshot("01-home")` saves a full-page PNG into test-artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> None:
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    return save


# --- What the journeys share ----------------------------------------------------------------


@pytest.fixture
def products():
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    kettle = ProductFactory(
        category=kitchen,
        slug="copper-kettle",
        title="Copper Kettle",
        price=Decimal("49.50"),
        stock=8,
    )
    pan = ProductFactory(
        category=kitchen,
        slug="cast-iron-pan",
        title="Cast Iron Pan",
        price=Decimal("35.00"),
        stock=5,
    )
    mugs = ProductFactory(
        category=kitchen,
        slug="stoneware-mugs",
        title="Stoneware Mugs",
        price=Decimal("12.00"),
        stock=2,
    )
    return kettle, pan, mugs
