"""What attackers try against the Gate, as a table: every (user tier x product x path) is exact."""

import json
from html import escape

import pytest

from tests.support.raw import raw_get
from tests.support.sessions import signed_in
from tests.support.websockets import refused

pytestmark = pytest.mark.site

USER_TIERS = ("anonymous", "stable", "ea", "devel", "admin")
RANK = {"stable": 0, "ea": 1, "devel": 2, "admin": 3}

# (product tier, path under the site, status when allowed)
TARGETS = [
    ("stable", "/stable/hello/", 200),
    ("stable", "/stable/hello/static/hello.css", 200),
    ("stable", "/stable/hello/api/greeting", 200),
    ("stable", "/stable/hello/no-such-page", 404),
    ("stable", "/stable/disagg/", 200),
    ("stable", "/stable/disagg/api/split?total=10&weights=1,1", 200),
    ("ea", "/ea/disagg/", 200),
    ("ea", "/ea/forecast/api/forecast?values=1,2,3", 200),
    ("ea", "/ea/forecast/static/missing.js", 404),
    ("devel", "/devel/inspector/", 200),
    ("devel", "/devel/inspector/any/sub/path", 200),
    ("admin", "/admin/manage/", 200),
    ("admin", "/admin/manage", 308),
    ("admin", "/admin%2Fmanage/", 200),
    ("admin", "/%61dmin/manage/", 200),
    # A monolith in stable/ whose hazard service needs ea (product.toml's stricter_paths).
    ("stable", "/stable/seistech/", 200),
    ("stable", "/stable/seistech/svc_disagg/", 200),
    ("stable", "/stable/seistech/svc_disagg/api/contributions", 200),
    ("ea", "/stable/seistech/svc_hazard/", 200),
    ("ea", "/stable/seistech/svc_hazard", 308),
    ("ea", "/stable/seistech/svc_hazard/api/curve", 200),
    ("ea", "/stable/seistech/svc_hazard/static/hazard.js", 200),
    ("ea", "/stable/seistech/svc_hazard/no-such-page", 404),
]

# Paths that try to climb out of a lower product or disguise a tier. Each lands on one of three
# places, and whichever it is, that place's own Gate decides: none reaches a product above the user.
STABLE_PRODUCT = {"anonymous": 302, "stable": 404}  # the stable product's Gate, then its own 404
ADMIN_GATE = {"anonymous": 302, "stable": 403}  # the admin console's Gate refuses
PORTAL_404 = {"anonymous": 404, "stable": 404}  # no mount matches: the portal's 404
ESCAPES = [
    ("/stable/hello/../../admin/manage/", STABLE_PRODUCT),
    ("/stable/hello/%2e%2e/%2e%2e/admin/manage/", STABLE_PRODUCT),
    ("/stable/hello/..%2f..%2fadmin%2fmanage/", STABLE_PRODUCT),
    ("/stable/hello/%2e%2e%2f%2e%2e%2fdevel/inspector/", STABLE_PRODUCT),
    ("/stable/hello/..;/..;/admin/manage/", STABLE_PRODUCT),
    ("//admin/manage/", ADMIN_GATE),
    ("///admin/manage/", ADMIN_GATE),
    ("/ADMIN/manage/", PORTAL_404),
    ("/Admin/manage/", PORTAL_404),
    ("/admin/./manage/", PORTAL_404),
    ("/./admin/manage/", PORTAL_404),
    ("/stable/../admin/manage/", PORTAL_404),
]

# Paths that try to reach the monolith's ea-only service as a stable user: every reading of the
# path that lands under /svc_hazard/ needs ea, whatever the product's own router would make of it.
STRICTER = {"anonymous": 302, "stable": 403}
STRICTER_ESCAPES = [
    "/stable/seistech/SVC_HAZARD/",
    "/stable/seistech/Svc_Hazard/api/curve",
    "/stable/seistech/svc_hazard%2Fapi%2Fcurve",
    "/stable/seistech/svc_hazard%252Fapi%252Fcurve",
    "/stable/seistech/svc%5fhazard/",
    "/stable/seistech//svc_hazard/",
    "/stable/seistech/./svc_hazard/",
    "/stable/seistech/svc_disagg/../svc_hazard/",
    "/stable/seistech/svc_disagg/%2e%2e/svc_hazard/api/curve",
    "/stable/seistech/svc_disagg/..%2fsvc_hazard/",
    "/stable/seistech/svc_disagg/..;/svc_hazard/",
    "/stable/seistech/svc_hazard;v=1/api/curve",
    "/stable/seistech/svc_hazard\\api\\curve",
    "/stable/seistech/svc_hazard/../svc_disagg/",
    "/stable/seistech/svc_hazard/static/../../svc_disagg/",
]

# Paths the live sites remove with PORTAL_BLOCK (tests.support.live.SAMPLE_BLOCK): 404 for
# everyone, signed in or not, admin included, however the path is spelled.
REMOVED = [
    "/stable/seistech/svc_report/",
    "/stable/seistech/svc_report",
    "/stable/seistech/svc_report/api/export?site=sample",
    "/stable/seistech/SVC_REPORT/",
    "/stable/seistech/svc_report%2Fapi%2Fexport",
    "/stable/seistech/%73vc_report/",
    "/stable/seistech//svc_report/",
    "/stable/seistech/svc_disagg/../svc_report/",
    "/stable/seistech/svc_disagg/%2e%2e/svc_report/api/export",
    "/stable/seistech/svc_report;v=1/api/export",
    "/stable/seistech/svc_report\\api\\export",
]

SPOOFED_IDENTITY = {
    "X-Portal-User": "admin@example.com",
    "X-Portal-Tier": "admin",
    "X-Remote-User": "admin@example.com",
    "Remote-User": "admin@example.com",
    "X-Forwarded-User": "admin@example.com",
    "X-Forwarded-Email": "admin@example.com",
    "X-Auth-Request-User": "admin@example.com",
    "X-User": "admin",
    "X-Tier": "admin",
    "X-Email": "admin@example.com",
    "X-Forwarded-Preferred-Username": "admin@example.com",
    "X-Forwarded-Groups": "admin",
}
DEVEL_SUBJECT = "auth0|demo-devel"


def inspector_row(name: str, value: str) -> str:
    """One fact as the devel inspector prints it, so a test can look for exactly that row."""
    return f'<th scope="row">{escape(name)}</th><td><code>{escape(value)}</code></td>'


@pytest.fixture(scope="module")
def cookies(portal):
    jars = {"anonymous": {}}
    for tier in RANK:
        session = signed_in(portal, tier)
        jars[tier] = {"Cookie": f"portal_session={session.cookies['portal_session']}"}
    return jars


def expected(user, product_tier, allowed_status):
    if user == "anonymous":
        return 302
    return allowed_status if RANK[user] >= RANK[product_tier] else 403


@pytest.mark.parametrize("user", USER_TIERS)
@pytest.mark.parametrize(("product_tier", "path", "allowed_status"), TARGETS)
def test_every_user_tier_gets_the_exact_status_for_every_product_path(
    portal, cookies, user, product_tier, path, allowed_status
):
    response = raw_get(portal.base_url, path, {"Accept": "text/html", **cookies[user]})
    assert response.status == expected(user, product_tier, allowed_status)


@pytest.mark.parametrize("user", USER_TIERS)
@pytest.mark.parametrize(("product_tier", "path", "allowed_status"), TARGETS)
def test_spoofed_identity_headers_change_nothing(
    portal, cookies, user, product_tier, path, allowed_status
):
    headers = {"Accept": "text/html", **SPOOFED_IDENTITY, **cookies[user]}
    response = raw_get(portal.base_url, path, headers)
    assert response.status == expected(user, product_tier, allowed_status)


@pytest.mark.parametrize(("path", "outcome"), ESCAPES)
@pytest.mark.parametrize("user", ("anonymous", "stable"))
def test_path_tricks_never_reach_a_product_above_the_user(portal, cookies, user, path, outcome):
    response = raw_get(portal.base_url, path, {"Accept": "text/html", **cookies[user]})
    assert response.status == outcome[user]
    assert 'id="manage-heading"' not in response.body
    assert "<h1>Inspector</h1>" not in response.body


@pytest.mark.parametrize("path", STRICTER_ESCAPES)
@pytest.mark.parametrize("user", ("anonymous", "stable"))
def test_no_spelling_of_a_stricter_path_lets_a_lower_tier_in(portal, cookies, user, path):
    response = raw_get(portal.base_url, path, {"Accept": "text/html", **cookies[user]})
    assert response.status == STRICTER[user]
    assert "<h1>Hazard curves</h1>" not in response.body


@pytest.mark.parametrize("path", STRICTER_ESCAPES[:4])
def test_a_stricter_path_refusal_names_the_path_and_its_tier(portal, cookies, path):
    response = raw_get(portal.base_url, path, {"Accept": "application/json", **cookies["stable"]})
    assert response.status == 403
    assert json.loads(response.body) == {
        "error": "forbidden",
        "message": "/svc_hazard/ of SeisTech (stable/seistech) needs the Early access tier (ea) "
        "or higher. Your tier is Stable (stable).",
        "required_tier": "ea",
        "your_tier": "stable",
    }


@pytest.mark.parametrize("path", REMOVED)
@pytest.mark.parametrize("user", USER_TIERS)
def test_a_removed_path_is_not_found_for_everyone(portal, cookies, user, path):
    response = raw_get(portal.base_url, path, {"Accept": "text/html", **cookies[user]})
    assert response.status == 404
    assert "<h1>Reports</h1>" not in response.body
    assert "The requested URL was not found on the server." in response.body


def test_a_removed_path_answers_api_clients_in_json(portal, cookies):
    response = raw_get(
        portal.base_url, REMOVED[2], {"Accept": "application/json", **cookies["admin"]}
    )
    assert response.status == 404
    assert json.loads(response.body)["error"] == "not_found"


@pytest.mark.parametrize("user", ("anonymous", "admin"))
def test_a_websocket_to_a_removed_path_is_not_found_before_the_upgrade(portal, user):
    http = None if user == "anonymous" else signed_in(portal, user)
    status, body = refused(portal.base_url, "/stable/seistech/svc_report/ws", http)
    assert (status, body["error"]) == (404, "not_found")


def test_the_login_redirect_keeps_the_original_path_and_query(portal):
    response = raw_get(portal.base_url, "/ea/forecast/api/forecast?city=Oslo&days=3")
    assert response.status == 302
    assert response.headers["location"] == (
        "/login?next=%2Fea%2Fforecast%2Fapi%2Fforecast%3Fcity%3DOslo%26days%3D3"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Upgrade": "websocket", "Connection": "Upgrade"},
    ],
)
def test_anonymous_api_clients_get_401_json(portal, headers):
    response = raw_get(portal.base_url, "/stable/hello/api/greeting", headers)
    assert response.status == 401
    assert response.headers["content-type"] == "application/json"
    assert '"error": "unauthenticated"' in response.body


def test_a_too_low_tier_gets_a_page_naming_the_needed_tier(portal, cookies):
    response = raw_get(
        portal.base_url, "/devel/inspector/", {"Accept": "text/html", **cookies["ea"]}
    )
    assert response.status == 403
    assert "needs the Development tier (devel) or higher" in response.body
    assert "Your tier is Early access (ea)" in response.body


def test_a_too_low_tier_api_client_gets_403_json(portal, cookies):
    response = raw_get(
        portal.base_url, "/admin/manage/", {"Accept": "application/json", **cookies["devel"]}
    )
    assert response.status == 403
    assert '"required_tier": "admin"' in response.body


def test_the_product_sees_the_gate_identity_not_the_spoofed_headers(portal, cookies):
    # The inspector lists every X-* header it receives: the harmless probe proves that it does,
    # so the absence of the spoofed ones means the Gate removed them.
    probe = {"X-Inspector-Probe": "passed-on"}
    headers = {"Accept": "text/html", **probe, **SPOOFED_IDENTITY, **cookies["devel"]}
    response = raw_get(portal.base_url, "/devel/inspector/", headers)
    assert response.status == 200
    assert inspector_row("HTTP_X_INSPECTOR_PROBE", "passed-on") in response.body
    assert inspector_row("REMOTE_USER", DEVEL_SUBJECT) in response.body
    assert "devel@example.com" in response.body
    for name, value in SPOOFED_IDENTITY.items():
        environ_key = "HTTP_" + name.upper().replace("-", "_")
        assert environ_key not in response.body
        assert f"<code>{escape(value)}</code>" not in response.body
    assert "admin@example.com" not in response.body


def test_the_product_never_receives_the_portal_session_cookie(portal, cookies):
    # Needs the Gate to strip portal_session from HTTP_COOKIE: a product could otherwise read
    # (and leak or replay) the portal's session id. The other cookie shows names are listed.
    cookie = f"theme=dark; {cookies['devel']['Cookie']}"
    response = raw_get(
        portal.base_url, "/devel/inspector/", {"Accept": "text/html", "Cookie": cookie}
    )
    assert response.status == 200
    assert inspector_row("Cookie names", "theme") in response.body
    assert "portal_session" not in response.body


def test_a_forged_session_cookie_is_anonymous(portal):
    response = raw_get(portal.base_url, "/stable/hello/", {"Cookie": "portal_session=forged.value"})
    assert response.status == 302
