"""The tier boundary in a real browser: what a low-tier product's script can do to an admin who
visits it, in path mode (one origin: everything, as the security model says) and host mode
(nothing).

The script is the one an attacker would put in any product's page (its own JavaScript, or an
XSS): read the admin console's CSRF token, then raise a stable user to admin through the
console's API. Cookie tossing is the other trick: plant a second session cookie at a longer path
so the browser sends it first, at sign-out or at the console.
"""

import shutil

import pytest

from auth.tiers import Tier
from db.audit import Source
from db.users import user_with_grants
from portal.config import PROJECT_ROOT
from tests.support.browser import sign_in_in_browser
from tests.support.live import private_site
from tests.support.sessions import signed_in

pytestmark = pytest.mark.browser

VICTIM = "auth0|demo-stable"
ATTACK = """
async (console) => {
  try {
    const csrf = await (await fetch(console + "/api/csrf", {credentials: "include"})).json();
    const answer = await fetch(console + "/api/users/auth0%7Cdemo-stable/tier", {
      method: "POST",
      credentials: "include",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf.csrf_token},
      body: JSON.stringify({tier: "admin"}),
    });
    return "status " + answer.status;
  } catch (error) {
    return "refused";
  }
}
"""


#: A stable product that tries to replace the admin console's own session cookie.
TOSSER = """
def app(environ, start_response):
    start_response("200 OK", [
        ("Content-Type", "text/html"),
        ("Set-Cookie", "portal_product_admin_manage=forged; Path=/admin/manage; HttpOnly"),
        ("Set-Cookie", "theme=dark; Path=/"),
    ])
    return [b"<h1>Tosser</h1>"]
"""


@pytest.fixture(scope="module", params=["path", "host"])
def site(request, tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    shutil.copytree(PROJECT_ROOT / "apps", apps, dirs_exist_ok=True)
    (apps / "stable" / "tosser").mkdir()
    (apps / "stable" / "tosser" / "__init__.py").write_text(TOSSER)
    with private_site(tmp_path_factory, apps_dir=apps, host_mode=request.param == "host") as live:
        yield live


def victim_tier(site):
    user, _grants = user_with_grants(site.services.database, VICTIM)
    return Tier.parse(user.tier)


def test_a_stable_products_script_acts_as_its_admin_visitor_only_in_path_mode(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    page.goto(site.product_url("stable/hello"))
    page.get_by_text("Hello, Ada Admin!").wait_for()
    consoles = ["/admin/manage"]
    if site.host_mode:
        consoles.append(site.product_url("admin/manage").removesuffix("/"))
    outcomes = [page.evaluate(ATTACK, console) for console in consoles]
    try:
        if site.host_mode:
            assert outcomes == ["refused", "refused"]
            assert victim_tier(site) is Tier.STABLE
        else:
            assert outcomes == ["status 200"]
            assert victim_tier(site) is Tier.ADMIN
    finally:
        site.services.user_admin().set_tier(
            VICTIM, Tier.STABLE, actor="test", source=Source.CONSOLE
        )


def portal_cookies(site, page):
    """The session cookies the browser holds for the portal's host, at any path."""
    host = site.base_url.split("://", 1)[1].split(":")[0]
    return [
        c for c in page.context.cookies() if c["name"] == "portal_session" and c["domain"] == host
    ]


def signed_in_session(site, page) -> str:
    """The server-side session behind the browser's cookie for the portal's host."""
    host = site.base_url.split("://", 1)[1]
    [value] = [c["value"] for c in portal_cookies(site, page) if c["path"] == "/"]
    return site.services.store.id_from_cookie(value, host)


def test_a_cookie_tossed_at_the_sign_out_path_cannot_stop_the_sign_out(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    page.goto(site.product_url("stable/hello"))
    page.evaluate("document.cookie = 'portal_session=junk; path=/logout'")
    page.goto(site.base_url + "/")
    session = signed_in_session(site, page)
    assert site.services.store.load(session) is not None
    tossed = len(portal_cookies(site, page)) == 2  # beside the portal's own, same host
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert site.services.store.load(session) is None
    assert portal_cookies(site, page) == []
    if site.host_mode:
        assert not tossed  # the script could only reach its own host's cookies
        assert page.get_by_role("link", name="Sign in").first.is_visible()
    else:
        assert tossed
        assert page.get_by_text("A page had set a second sign-in cookie").is_visible()
        assert page.get_by_role("heading", name="You are signed out").is_visible()
    page.goto(site.base_url + "/api/me")
    assert "unauthenticated" in page.content()


def test_a_cookie_tossed_at_the_console_never_swaps_who_the_console_sees(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    planted = signed_in(site, "stable").cookies["portal_session"]
    page.goto(site.product_url("stable/hello"))
    page.evaluate(f"document.cookie = 'portal_session={planted}; path=/admin/manage'")
    answer = page.goto(site.product_url("admin/manage"))
    heading = page.get_by_role("heading", level=1).inner_text()
    if site.host_mode:
        assert (answer.status, heading) == (200, "Users")  # the planted cookie is elsewhere
    else:
        assert (answer.status, heading) == (400, "Sign-in cookie tampered with")
        assert page.goto(site.product_url("admin/manage")).status == 200


@pytest.mark.parametrize("site", ["host"], indirect=True)
def test_one_sign_in_opens_three_hosts_and_signing_out_on_one_ends_them_all(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    products = ["stable/hello", "ea/live", "devel/inspector"]
    for key in products:
        assert page.goto(site.product_url(key)).status == 200
        assert page.url == site.product_url(key)
    page.goto(site.product_url("stable/hello"))
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site.base_url + "/")
    for key in products:
        page.goto(site.product_url(key))
        assert page.url.startswith(site.base_url + "/idp/authorize"), key


def test_a_product_cannot_set_the_consoles_cookie_or_one_outside_its_mount(site, page):
    sign_in_in_browser(page, site.base_url, "admin")
    page.goto(site.product_url("admin/manage"))
    page.goto(site.product_url("stable/tosser"))
    page.get_by_text("Tosser").wait_for()
    cookies = {(c["name"], c["path"]): c["value"] for c in page.context.cookies()}
    assert "forged" not in cookies.values()
    assert cookies[("theme", "/stable/tosser")] == "dark"
    assert ("theme", "/") not in cookies
    assert page.goto(site.product_url("admin/manage")).status == 200
