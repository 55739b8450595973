"""The sample monolith in a real browser: an ea user opens its ea-only service from the dashboard
and uses it (its websocket included); a stable user's dashboard never offers that service."""

import pytest
from playwright.sync_api import expect

from tests.support.browser import sign_in_in_browser

pytestmark = pytest.mark.browser


def test_an_ea_user_opens_the_stricter_service_from_its_entry_point_and_uses_it(site, page):
    sign_in_in_browser(page, site.base_url, "ea")
    card = page.locator('article.card--entries[data-product="stable/seistech"]')
    assert card.locator(".entry-point__title").all_inner_texts() == [
        "Disaggregation",
        "Hazard curves",
    ]
    card.get_by_role("link", name="Hazard curves").click()
    page.wait_for_url(site.base_url + "/stable/seistech/svc_hazard/")
    page.get_by_label("Intensity (g)").fill("0.5")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator("#rate-output")).to_have_text("0.5 g: 0.002707 per year")


def test_a_stable_users_dashboard_offers_only_what_their_tier_opens(site, page):
    sign_in_in_browser(page, site.base_url, "stable")
    card = page.locator('article.card--entries[data-product="stable/seistech"]')
    assert card.locator(".entry-point__title").all_inner_texts() == ["Disaggregation"]
    card.get_by_role("link", name="Disaggregation").click()
    page.wait_for_url(site.base_url + "/stable/seistech/svc_disagg/")
    assert page.get_by_role("heading", name="Disaggregation").is_visible()
