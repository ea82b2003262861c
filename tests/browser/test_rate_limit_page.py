"""When a limit bites, the storefront shows a friendly page that says when to try again."""

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import ProductFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.timeout(180),
]


def test_searching_past_the_limit_shows_the_slow_down_page(
    live_server, page, screenshot, settings, redis_cache
):
    settings.RATELIMIT_SCALE = 1
    # Per hour, not per minute: a minute window can turn over between the three page loads.
    settings.RATELIMITS = {**settings.RATELIMITS, "search": "2/h"}
    ProductFactory(title="Brass Desk Lamp")
    for attempt in range(2):
        response = page.goto(f"{live_server.url}/search/?q=lamp{attempt}")
        assert response.status == 200
    response = page.goto(f"{live_server.url}/search/?q=lamp")
    assert response.status == 429
    assert int(response.headers["retry-after"]) > 0
    expect(page.get_by_role("heading", name="Slow down a little")).to_be_visible()
    screenshot("30-rate-limited")
