"""A blocked user is told "Account blocked" on every visit.

Blocking ends the user's sessions; the session remembers why, so the next request, a product page,
a portal page or a JSON call, says the account is blocked instead of asking them to sign in.
After that the session is an ordinary ended one, and every sign-in it leads to says it again:
the identity provider sends a blocked user back with `unauthorized` / `user is blocked`, whether
they were still signed in there or typed their password.
"""

import pytest
import requests

from db.audit import Source
from tests.support.live import private_site
from tests.support.sessions import signed_in
from tests.support.signin import open_login_form

pytestmark = pytest.mark.site

SUBJECT = "auth0|demo-stable"
BLOCKED_TEXT = "Your account is blocked. Contact an administrator if you think this is a mistake."
SIGN_IN_BLOCKED_TEXT = (
    "Your account is blocked or was removed. Contact an administrator if you think this is a "
    "mistake."
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with private_site(tmp_path_factory, identity_cache_seconds=30) as live:
        yield live


@pytest.fixture
def blocked(site):
    """A signed-in stable user's cookie, then the user blocked by an admin; unblocked after."""
    cookie = {"portal_session": signed_in(site, "stable").cookies["portal_session"]}
    assert get(site, "/stable/hello/", cookie).status_code == 200  # cached by this worker
    admin = site.services.user_admin()
    admin.set_blocked(SUBJECT, True, actor="auth0|demo-admin", source=Source.CONSOLE)
    yield cookie
    admin.set_blocked(SUBJECT, False, actor="auth0|demo-admin", source=Source.CONSOLE)


def get(site, path, cookie, **headers):
    return requests.get(
        site.base_url + path, cookies=cookie, headers=headers, allow_redirects=False, timeout=10
    )


def test_the_next_product_page_says_account_blocked_then_the_sign_in_redirect(site, blocked):
    first = get(site, "/stable/hello/", blocked)
    assert first.status_code == 403
    assert "Account blocked" in first.text
    assert BLOCKED_TEXT in first.text
    assert first.headers["Set-Cookie"].startswith("portal_session=; Expires=Thu, 01 Jan 1970")
    second = get(site, "/stable/hello/", blocked)
    assert (second.status_code, second.headers["Location"]) == (
        302,
        "/login?next=%2Fstable%2Fhello%2F",
    )


def test_the_next_json_call_says_blocked_then_unauthenticated(site, blocked):
    first = get(site, "/stable/hello/api/greeting", blocked, Accept="application/json")
    assert (first.status_code, first.json()) == (403, {"error": "blocked", "message": BLOCKED_TEXT})
    second = get(site, "/stable/hello/api/greeting", blocked, Accept="application/json")
    assert (second.status_code, second.json()["error"]) == (401, "unauthenticated")


def test_the_next_portal_page_says_account_blocked_then_shows_the_sign_in_page(site, blocked):
    first = get(site, "/", blocked)
    assert first.status_code == 403
    assert '<h1 id="error-heading">Account blocked</h1>' in first.text
    assert BLOCKED_TEXT in first.text
    second = get(site, "/", blocked)
    assert second.status_code == 200
    assert 'href="/login"' in second.text
    assert "Account blocked" not in second.text


def test_the_portals_api_says_blocked_once_in_json(site, blocked):
    first = get(site, "/api/me", blocked, Accept="application/json")
    assert (first.status_code, first.json()) == (
        403,
        {"error": "Account blocked", "message": BLOCKED_TEXT},
    )
    assert get(site, "/api/me", blocked, Accept="application/json").status_code == 401


def test_an_unblocked_user_with_an_old_cookie_just_signs_in_again(site, blocked):
    site.services.user_admin().set_blocked(
        SUBJECT, False, actor="auth0|demo-admin", source=Source.CONSOLE
    )
    answer = get(site, "/stable/hello/", blocked)
    assert answer.status_code == 302


@pytest.fixture
def blocked_browser(site):
    """A signed-in stable user's whole browser (the portal's cookie and the provider's), then
    the user blocked by an admin; unblocked after."""
    browser = signed_in(site, "stable")
    admin = site.services.user_admin()
    admin.set_blocked(SUBJECT, True, actor="auth0|demo-admin", source=Source.CONSOLE)
    yield browser
    admin.set_blocked(SUBJECT, False, actor="auth0|demo-admin", source=Source.CONSOLE)


def says_account_blocked(answer) -> tuple:
    return (answer.status_code, '<h1 id="error-heading">Account blocked</h1>' in answer.text)


@pytest.mark.parametrize("path", ["/stable/hello/", "/"])
def test_every_visit_after_the_first_says_account_blocked_too(site, blocked_browser, path):
    first = blocked_browser.get(site.base_url + path, timeout=10)
    assert says_account_blocked(first) == (403, True)
    for _ in range(2):
        again = blocked_browser.get(site.base_url + "/stable/hello/", timeout=10)
        assert says_account_blocked(again) == (403, True)
        assert SIGN_IN_BLOCKED_TEXT in again.text
        assert "Sign-in failed" not in again.text
        assert again.url.startswith(site.base_url + "/callback?error=unauthorized")


def test_signing_in_afresh_while_blocked_says_account_blocked(site, blocked_browser):
    browser, action, fields = open_login_form(site.base_url)
    fields.update(email="stable@example.com", password="stable", sign_in="Sign in")
    answer = browser.post(action, data=fields, timeout=10)
    assert says_account_blocked(answer) == (403, True)
    me = browser.get(site.base_url + "/api/me", headers={"Accept": "application/json"}, timeout=10)
    assert me.status_code == 401


def test_a_wrong_password_of_a_blocked_user_is_only_a_wrong_password(site, blocked_browser):
    browser, action, fields = open_login_form(site.base_url)
    fields.update(email="stable@example.com", password="not-it", sign_in="Sign in")
    answer = browser.post(action, data=fields, timeout=10)
    assert (answer.status_code, "Wrong email or password." in answer.text) == (401, True)
    assert "blocked" not in answer.text
