"""Headless Debian Chromium driven by Playwright; no browser is ever downloaded."""

import os
from pathlib import Path

import pytest

from tests.support.live import private_site
from tests.support.required import unavailable

CHROMIUM = Path(os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package"
        unavailable(message, "browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The site with the samples, on SQLite, in path mode: the browser's tests that need nothing
    of their own share it (the others redefine `site` with what they need)."""
    with private_site(tmp_path_factory) as live:
        yield live
