"""The admin console in a real browser: find a user, raise them to ea, and they see ea products.

The console page is saved as ``test-artifacts/admin-console.png``; with
``PORTAL_UPDATE_SCREENSHOTS=1`` it refreshes the committed ``docs/admin-console.png`` instead.
"""

import os
import time
from pathlib import Path

import pytest

from tests.support.browser import sign_in_in_browser
from tests.support.live import private_site
from tests.test_admin_console_helpers import row

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
UPDATE_SCREENSHOTS = os.environ.get("PORTAL_UPDATE_SCREENSHOTS") == "1"
SCREENSHOTS = ROOT / ("docs" if UPDATE_SCREENSHOTS else "test-artifacts")
CACHE_SECONDS = 1.0
EMAIL, PASSWORD = "riley.raise@example.org", "pw-123456"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with private_site(tmp_path_factory, identity_cache_seconds=CACHE_SECONDS) as live:
        subject = live.idp_store.add_user(EMAIL, PASSWORD, [], "Riley Raise")
        live.services.user_sync().one(subject)
        yield live


def ea_products(site):
    """Every ea product the portal serves (the samples change; the rule does not)."""
    products = site.services.discovery.products
    return sorted(
        f"{p.mount_path}/" for p in products if p.info.tier.value == "ea" and p.status == "loaded"
    )


def ea_cards(page):
    return page.locator('a.card[href^="/ea/"]')


def test_an_admin_raises_a_user_to_ea_and_their_dashboard_shows_ea_products(site, page, browser):
    user_context = browser.new_context(viewport={"width": 1280, "height": 800})
    user = user_context.new_page()
    user.set_default_timeout(15_000)
    sign_in_in_browser(user, site.base_url, EMAIL, PASSWORD)
    assert ea_cards(user).count() == 0

    sign_in_in_browser(page, site.base_url, "admin")
    page.goto(site.base_url + "/admin/manage/")
    page.get_by_label("Email, name or user id").fill("riley.raise@")
    page.keyboard.press("Enter")
    page.get_by_role("link", name=EMAIL).click()
    page.get_by_label("Tier").select_option("ea")
    page.get_by_role("button", name="Change tier").click()
    notice = page.get_by_role("status")
    assert notice.inner_text() == f"Riley Raise ({EMAIL}) now has the Early access tier (ea)."
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "admin-console.png"), full_page=True)

    time.sleep(CACHE_SECONDS + 0.2)
    user.reload()
    shown = ea_cards(user).evaluate_all("cards => cards.map(c => c.getAttribute('href'))")
    assert sorted(shown) == ea_products(site)
    user_context.close()


def test_ticking_a_user_and_pressing_apply_changes_nothing_without_a_chosen_action(site, page):
    subject = site.idp_store.add_user("tick.apply@example.org", PASSWORD, [], "Tick Apply")
    site.services.user_sync().one(subject)
    sign_in_in_browser(page, site.base_url, "admin")
    page.goto(site.base_url + "/admin/manage/")
    page.get_by_label("Email, name or user id").fill("tick.apply@")
    page.keyboard.press("Enter")
    page.get_by_label("Select tick.apply@example.org").check()
    page.get_by_role("button", name="Apply to selected").click()
    assert "Choose an action for the selected users first: a tier, block or unblock." in (
        page.content()
    )
    assert row(site, subject).tier == "stable"
