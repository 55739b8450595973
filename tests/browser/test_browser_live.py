"""The live sample in a real browser: the page's own websocket, through the Gate, round-trips."""

import pytest

from tests.support.browser import sign_in_in_browser

pytestmark = pytest.mark.browser


def test_an_ea_user_sends_a_message_and_sees_it_come_back(site, page):
    sign_in_in_browser(page, site.base_url, "ea", next_path="/ea/live/")

    status = page.locator("#live-status")
    status.filter(has_text="Connected as Eve Early").wait_for()
    page.get_by_label("Message").fill("hello from chromium")
    page.get_by_role("button", name="Send").click()

    echo = page.locator("#live-feed .live__echo")
    echo.filter(has_text="hello from chromium").wait_for()
    assert echo.first.locator(".live__who").inner_text() == "Echo"


def test_signing_out_elsewhere_closes_the_pages_socket(site, page):
    sign_in_in_browser(page, site.base_url, "ea", next_path="/ea/live/")
    page.locator("#live-status").filter(has_text="Connected").wait_for()

    other = page.context.new_page()
    other.goto(site.base_url + "/ea/live/")
    other.get_by_role("button", name="Sign out").click()

    page.locator("#live-status").filter(has_text="Disconnected (4001)").wait_for()
    assert page.get_by_role("button", name="Send").is_disabled()
