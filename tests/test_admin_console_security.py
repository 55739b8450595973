"""Who may use the console, and forged requests: refused with the exact status, nothing changed."""

import pytest
import requests
from sqlalchemy import func, select

from apps.admin.manage import create_app
from auth.identity import AUTH_METHOD_ENVIRON_KEY
from auth.tiers import Tier
from db.models import SyncRun
from kit.testing import make_user, product_client
from tests.support.raw import raw_get
from tests.support.sessions import signed_in
from tests.test_admin_console_helpers import (
    ADMIN_SUBJECT,
    admin_session,
    api_token,
    audit,
    console_url,
    grants_of,
    new_user,
    row,
)

pytestmark = pytest.mark.site

TARGET = "auth0%7Cdemo-stable"
READS = [
    "/",
    f"/users/{TARGET}",
    "/products",
    "/sync",
    "/sync/status",
    "/audit",
    "/audit.csv",
    "/static/manage.css",
    "/static/sync.js",
    "/api/csrf",
    "/api/users",
    f"/api/users/{TARGET}",
    "/api/products",
    "/api/sync",
    "/api/audit",
]
CHANGES = [
    ("POST", "/users/{s}/tier", {"tier": "admin", "confirm": "yes"}),
    ("POST", "/users/{s}/block", {"confirm": "yes"}),
    ("POST", "/users/{s}/sessions/end", {"confirm": "yes"}),
    ("POST", "/users/{s}/grants", {"product": "devel/inspector"}),
    (
        "POST",
        "/users/bulk",
        {"subject": "{s}", "action": "tier", "tier": "admin", "confirm": "yes"},
    ),
    ("POST", "/api/users/{s}/tier", {"tier": "admin"}),
    ("POST", "/api/users/{s}/block", {}),
    ("POST", "/api/users/{s}/sessions/end", {}),
    ("POST", "/api/users/{s}/grants", {"product": "devel/inspector"}),
]


@pytest.fixture(scope="module")
def members(portal):
    return {tier: signed_in(portal, tier) for tier in ("devel", "ea", "stable")}


def untouched(portal, subject):
    user = row(portal, subject)
    return (user.tier, user.blocked, audit(portal, subject), grants_of(portal, subject)) == (
        "stable",
        False,
        [],
        [],
    )


def sync_runs(portal):
    with portal.services.database.transaction() as db:
        return db.scalar(select(func.count()).select_from(SyncRun))


@pytest.mark.parametrize("tier", ["devel", "ea", "stable"])
@pytest.mark.parametrize("path", READS)
def test_non_admins_get_403_on_every_console_page_file_and_api(portal, members, tier, path):
    answer = members[tier].get(console_url(portal, path), allow_redirects=False, timeout=10)
    assert answer.status_code == 403


@pytest.mark.parametrize("tier", ["devel", "ea", "stable"])
@pytest.mark.parametrize(("method", "path", "data"), CHANGES)
def test_non_admins_get_403_on_every_change_and_nothing_changes(
    portal, members, tier, method, path, data
):
    subject, _ = new_user(portal)
    url = console_url(portal, path.format(s=subject))
    answer = members[tier].request(method, url, data=data, allow_redirects=False, timeout=10)
    assert answer.status_code == 403
    assert untouched(portal, subject)


@pytest.mark.parametrize("path", READS)
def test_anonymous_browsers_are_sent_to_sign_in(portal, path):
    answer = raw_get(portal.base_url, "/admin/manage" + path, {"Accept": "text/html"})
    assert answer.status == 302
    assert answer.headers["location"].startswith("/login?next=%2Fadmin%2Fmanage")


@pytest.mark.parametrize("path", [p for p in READS if p.startswith("/api/")])
def test_anonymous_api_clients_get_401(portal, path):
    answer = raw_get(portal.base_url, "/admin/manage" + path, {"Accept": "application/json"})
    assert answer.status == 401


@pytest.mark.parametrize(("method", "path", "data"), CHANGES)
def test_a_change_without_a_csrf_token_is_400_and_changes_nothing(
    portal, admin, method, path, data
):
    subject, _ = new_user(portal)
    fields = {k: v.format(s=subject) for k, v in data.items()}
    url = console_url(portal, path.format(s=subject))
    if path.startswith("/api/"):
        answer = admin.request(method, url, json=fields, timeout=10)
        assert (answer.status_code, answer.json()["error"]) == (400, "csrf")
        assert answer.json()["message"].startswith("The CSRF token is missing.")
    else:
        answer = admin.request(method, url, data=fields, allow_redirects=False, timeout=10)
        assert answer.status_code == 400
        assert "The CSRF token is missing. Reload the page and try again" in answer.text
    assert untouched(portal, subject)


def test_a_wrong_csrf_token_is_400_and_changes_nothing(portal, admin):
    subject, _ = new_user(portal)
    answer = admin.post(
        console_url(portal, f"/users/{subject}/tier"),
        data={"tier": "admin", "csrf_token": "forged-token"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 400
    assert "The CSRF token is invalid." in answer.text
    assert untouched(portal, subject)


def test_another_admins_token_does_not_pass_with_this_cookie(portal, admin):
    subject, _ = new_user(portal)
    other = admin_session(portal)
    answer = admin.post(
        console_url(portal, f"/api/users/{subject}/block"),
        headers={"X-CSRFToken": api_token(portal, other)},
        timeout=10,
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "csrf")
    assert untouched(portal, subject)


def test_a_cross_site_form_post_without_the_console_cookie_is_400(portal, admin):
    subject, _ = new_user(portal)
    cookie = {"portal_session": admin.cookies.get("portal_session", path="/")}
    answer = requests.post(
        console_url(portal, f"/users/{subject}/block"),
        data={"confirm": "yes"},
        cookies=cookie,
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 400
    assert untouched(portal, subject)


def test_a_forged_sync_now_starts_no_sync(portal, admin):
    before = sync_runs(portal)
    answer = admin.post(console_url(portal, "/sync"), allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert sync_runs(portal) == before


def test_bearer_requests_need_no_csrf_token_but_cookie_ones_do(portal):
    subject, _ = new_user(portal)
    app = create_app()
    app.admin_services = portal.services.for_admin_products()
    client = product_client(app, user=make_user(Tier.ADMIN, subject=ADMIN_SUBJECT))
    client.gate_environ[AUTH_METHOD_ENVIRON_KEY] = "session"
    assert client.post(f"/api/users/{subject}/tier", json={"tier": "ea"}).status_code == 400
    assert row(portal, subject).tier == "stable"

    client.gate_environ[AUTH_METHOD_ENVIRON_KEY] = "bearer"
    answer = client.post(f"/api/users/{subject}/tier", json={"tier": "ea"})
    assert (answer.status_code, row(portal, subject).tier) == (200, "ea")


def test_an_admins_bearer_token_changes_a_tier_without_a_csrf_token(portal):
    subject, _ = new_user(portal)
    token = portal.devidp.access_token_for("admin@example.com", "openid portal:admin")
    answer = requests.post(
        console_url(portal, f"/api/users/{subject}/tier"),
        json={"tier": "ea"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert (answer.status_code, answer.json()["user"]["tier"]) == (200, "ea")
    assert audit(portal, subject) == [
        (ADMIN_SUBJECT, "user.tier_changed", {"from": "stable", "to": "ea"}, "api")
    ]


def test_a_devel_bearer_token_is_refused_by_the_gate(portal):
    subject, _ = new_user(portal)
    portal.services.user_sync().one("auth0|demo-devel")
    token = portal.devidp.access_token_for("devel@example.com")
    answer = requests.post(
        console_url(portal, f"/api/users/{subject}/tier"),
        json={"tier": "ea"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 403
    assert untouched(portal, subject)
