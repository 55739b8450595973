"""Host mode's two browser attacks, in a real browser, and the sign-in they must not break.

- A link whose path carries `%0d%0aSet-Cookie:...` once split the portal's redirect into two
  headers, and a click replaced an admin's portal session with the attacker's.
- Login CSRF: a stable user asked the portal host for a handoff code (without following it) and
  sent the product-host URL to an admin, whose session on that host became the stable user's.
"""

import hashlib
import secrets
import shutil
from urllib.parse import quote

import pytest
from playwright.sync_api import Error as PlaywrightError

from auth.handoff import STATE_COOKIE_NAME
from portal.config import PROJECT_ROOT
from tests.support.browser import sign_in_in_browser
from tests.support.live import private_site
from tests.support.sessions import signed_in
from tests.support.signin import session_id_of

pytestmark = pytest.mark.browser
PRODUCTS = ("stable/hello", "stable/seistech", "admin/manage")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    for key in PRODUCTS:
        shutil.copytree(PROJECT_ROOT / "apps" / key, apps / key)
    with private_site(tmp_path_factory, apps_dir=apps, host_mode=True) as live:
        yield live


def click(page, url: str):
    """Follow a link to `url` as a person would, from a page of another site."""
    page.set_content(f'<a href="{url}">prize</a>')
    with page.expect_navigation() as navigation:
        page.click("text=prize")
    return navigation.value


def who_is_signed_in(page, site) -> str:
    page.goto(site.base_url + "/api/me")
    return page.evaluate("JSON.parse(document.body.innerText).user.email")


def test_a_link_cannot_smuggle_a_cookie_into_the_portals_redirect(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    attackers = signed_in(site, "stable").cookies["portal_session"]
    smuggled = quote(f"\r\nSet-Cookie: portal_session={attackers}; Path=/; HttpOnly", safe="")
    try:
        status = click(page, f"{site.base_url}/stable/x{smuggled}/").status
    except PlaywrightError as error:  # the redirect went wherever the split header said
        status = str(error)
    assert who_is_signed_in(page, site) == "admin@example.com"
    assert status == 400


def attackers_state_digest() -> str:
    """The attacker's own browser's state: the victim's browser never holds it."""
    return hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest()


def test_a_handoff_code_asked_for_by_someone_else_does_not_sign_the_admin_out_of_hello(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    page.goto(site.product_url("stable/hello"))
    page.get_by_text("Hello, Ada Admin!").wait_for()
    attacker = signed_in(site, "stable")
    start = attacker.get(
        site.base_url + "/_portal/handoff",
        params={
            "product": "stable/hello",
            "next": "/stable/hello/",
            "state": attackers_state_digest(),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 302
    assert click(page, start.headers["Location"]).status == 400
    page.goto(site.product_url("stable/hello"))
    page.get_by_text("Hello, Ada Admin!").wait_for()


def test_no_code_for_the_console_reaches_the_admins_console_host(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    assert page.goto(site.product_url("admin/manage")).status == 200
    attacker = signed_in(site, "stable")
    digest = attackers_state_digest()
    asked = attacker.get(
        site.base_url + "/_portal/handoff",
        params={"product": "admin/manage", "next": "/admin/manage/", "state": digest},
        allow_redirects=False,
        timeout=10,
    )
    assert asked.status_code == 403
    # A code for the console's host made for the stable user's session anyway (as one minted
    # before the tier check would be): the admin's browser holds no state for it.
    minted = site.services.handoffs.issue(
        session_id_of(site, attacker), "admin/manage", "/admin/manage/", digest
    )
    assert click(page, minted).status == 400
    answer = page.goto(site.product_url("admin/manage"))
    assert (answer.status, page.get_by_role("heading", level=1).inner_text()) == (200, "Users")
    assert "Ada Admin" in page.content()


def test_one_sign_in_opens_three_hosts_and_leaves_no_state_behind(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    for key in PRODUCTS:
        answer = page.goto(site.product_url(key))
        assert (answer.status, page.url) == (200, site.product_url(key)), key
    hosts = {c["domain"] for c in page.context.cookies() if c["name"] == "portal_session"}
    assert len(hosts) == 4  # the portal's host and the three products'
    assert [c for c in page.context.cookies() if c["name"] == STATE_COOKIE_NAME] == []
