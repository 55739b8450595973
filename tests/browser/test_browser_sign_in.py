"""A person's first visit, in a real browser: sign in as devel, open a product, sign out.

Screenshots go to ``test-artifacts/`` (gitignored), so a test run never dirties the tree. To
refresh the committed ``docs/dashboard.png`` on purpose, run with ``PORTAL_UPDATE_SCREENSHOTS=1``.
"""

import os
from pathlib import Path

import pytest

from tests.support.browser import sign_in_in_browser

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
UPDATE_SCREENSHOTS = os.environ.get("PORTAL_UPDATE_SCREENSHOTS") == "1"
SCREENSHOTS = ROOT / ("docs" if UPDATE_SCREENSHOTS else "test-artifacts")


def test_devel_user_signs_in_opens_a_devel_product_and_signs_out(site, page):
    page.goto(site.base_url + "/")
    page.get_by_role("link", name="Sign in").first.click()

    page.get_by_label("Email").fill("devel@example.com")
    page.get_by_label("Password").fill("devel")
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(site.base_url + "/")
    assert page.get_by_role("heading", name="Your products").is_visible()
    assert page.locator(".user-menu__name").inner_text() == "Dev Developer"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    page.locator('a.card[href="/devel/inspector/"]').click()
    page.wait_for_url(site.base_url + "/devel/inspector/")
    assert "devel@example.com" in page.content()

    page.goto(site.base_url + "/stable/hello/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site.base_url + "/")
    assert page.get_by_role("link", name="Sign in").first.is_visible()

    page.goto(site.base_url + "/devel/inspector/")
    assert page.url.startswith(site.base_url + "/idp/authorize")


def test_the_admin_console_is_refused_to_a_devel_user_with_a_readable_page(site, page):
    sign_in_in_browser(page, site.base_url, "devel")

    response = page.goto(site.base_url + "/admin/manage/")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not available with your tier").is_visible()
