"""Mounting a custom apps/ folder: broken products, PORTAL_APPS selection, stray folders."""

import shutil

import pytest
import requests

from portal.config import PROJECT_ROOT
from tests.support.live import private_site
from tests.support.sessions import signed_in

pytestmark = pytest.mark.site

BROKEN = "import json\nraise RuntimeError('cannot reach the model store')\n"
RAISING = "def app(environ, start_response):\n    raise ZeroDivisionError('oops')\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    for key in ("stable/hello", "ea/forecast", "devel/inspector"):
        shutil.copytree(PROJECT_ROOT / "apps" / key, apps / key)
    (apps / "stable" / "raising").mkdir()
    (apps / "stable" / "raising" / "__init__.py").write_text(RAISING)
    (apps / "stable" / "broken").mkdir()
    (apps / "stable" / "broken" / "__init__.py").write_text(BROKEN)
    shutil.copytree(PROJECT_ROOT / "apps/stable/hello", apps / "beta" / "hello")
    with private_site(
        tmp_path_factory, apps_dir=apps, apps_patterns=("stable/*", "devel/*", "!devel/inspector")
    ) as live:
        yield live


def test_a_broken_product_answers_503_without_details_for_stable_users(site):
    http = signed_in(site, "stable")
    page = http.get(site.base_url + "/stable/broken/", timeout=10)
    assert page.status_code == 503
    assert "stable/broken could not be loaded" in page.text
    assert "cannot reach the model store" not in page.text


def test_a_broken_product_shows_its_traceback_to_devel_users(site):
    http = signed_in(site, "devel")
    page = http.get(site.base_url + "/stable/broken/any/path", timeout=10)
    assert page.status_code == 503
    assert "RuntimeError: cannot reach the model store" in page.text
    assert "Traceback" in page.text


def test_a_broken_product_is_still_behind_the_gate(site):
    answer = requests.get(site.base_url + "/stable/broken/", allow_redirects=False, timeout=10)
    assert answer.status_code == 302


def test_the_dashboard_lists_broken_products_only_for_devel_and_admin(site):
    stable = signed_in(site, "stable").get(site.base_url + "/", timeout=10).text
    devel = signed_in(site, "devel").get(site.base_url + "/", timeout=10).text
    assert "stable/broken" not in stable
    assert "<pre>RuntimeError: cannot reach the model store</pre>" in devel


def test_products_excluded_by_portal_apps_are_not_mounted(site):
    http = signed_in(site, "admin")
    assert http.get(site.base_url + "/ea/forecast/", timeout=10).status_code == 404
    assert http.get(site.base_url + "/devel/inspector/", timeout=10).status_code == 404
    assert http.get(site.base_url + "/stable/hello/", timeout=10).status_code == 200


def test_excluded_products_are_not_on_the_dashboard(site):
    page = signed_in(site, "admin").get(site.base_url + "/", timeout=10).text
    assert 'href="/ea/forecast/"' not in page
    assert 'href="/devel/inspector/"' not in page
    assert 'href="/stable/hello/"' in page


def test_a_folder_that_is_not_a_tier_is_not_mounted(site):
    http = signed_in(site, "admin")
    assert http.get(site.base_url + "/beta/hello/", timeout=10).status_code == 404
    assert site.services.discovery.ignored == ["beta"]


def test_a_product_raising_in_a_request_gets_a_500_page_for_that_request_only(site):
    http = signed_in(site, "stable")
    failed = http.get(site.base_url + "/stable/raising/", timeout=10)
    assert failed.status_code == 500
    assert "raising hit an error" in failed.text
    assert "ZeroDivisionError" not in failed.text
    assert http.get(site.base_url + "/stable/hello/", timeout=10).status_code == 200


def test_an_error_page_offers_one_way_back_to_the_dashboard(site):
    http = signed_in(site, "stable")
    page = http.get(site.base_url + "/stable/broken/", timeout=10).text
    actions = page[page.index('class="error-page__actions"') :]
    actions = actions[: actions.index("</p>")]
    assert actions.count('href="/"') == 1
    assert "Back to your dashboard" in actions
