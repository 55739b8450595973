"""The Dash sample in a real browser, before and after it is promoted to another tier: its
scripts and callbacks follow the folder, with no prefix written into the product."""

import shutil
import time

import pytest

from portal.config import PROJECT_ROOT
from tests.support.browser import sign_in_in_browser
from tests.support.live import private_site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    shutil.copytree(PROJECT_ROOT / "apps" / "devel" / "explorer", apps / "devel" / "explorer")
    (apps / "ea").mkdir()
    with private_site(tmp_path_factory, apps_dir=apps, apps_recheck_seconds=0.2) as live:
        yield live, apps


def wait_until_served(page, url, seconds=60):
    """Once the watcher has seen the folder move (every 0.2 s here), the new address answers."""
    deadline = time.monotonic() + seconds
    while page.request.get(url).status != 200:
        assert time.monotonic() < deadline, f"{url} was not served within {seconds} s"
        time.sleep(0.2)


def choose_ridge_and_read_the_total(page, url):
    page.goto(url)
    page.locator(".js-plotly-plot").wait_for()
    page.locator("#station").click()
    page.get_by_text("Ridge", exact=True).click()
    page.get_by_text("Ridge: 1261 mm in a year").wait_for()
    return page.locator("#total").inner_text()


def test_the_dash_sample_plots_and_reacts_where_it_is_mounted_and_after_promotion(site, page):
    live, apps = site
    sign_in_in_browser(page, live.base_url, "admin")
    assert (
        choose_ridge_and_read_the_total(page, live.base_url + "/devel/explorer/")
        == "Ridge: 1261 mm in a year"
    )

    shutil.move(apps / "devel" / "explorer", apps / "ea" / "explorer")
    wait_until_served(page, live.base_url + "/ea/explorer/")
    assert (
        choose_ridge_and_read_the_total(page, live.base_url + "/ea/explorer/")
        == "Ridge: 1261 mm in a year"
    )
    scripts = page.locator("script[src]").evaluate_all("nodes => nodes.map(n => n.src)")
    assert scripts and all("/ea/explorer/" in src for src in scripts)
