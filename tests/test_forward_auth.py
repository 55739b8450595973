"""`/auth/check` as nginx, Traefik and Caddy ask it, in both modes, over real HTTP.

nginx names the request it holds in X-Original-URI (and gets only 200, 401 or 403 back);
Traefik and Caddy name it in X-Forwarded-Uri and get the Gate's own answers.
"""

from __future__ import annotations

import re
import textwrap
import time
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from portal.forward_auth import ForwardAuth, normalized_path
from tests.support.databases import BACKENDS
from tests.support.live import private_site
from tests.support.raw import raw_get
from tests.support.sessions import signed_in
from tests.support.signin import session_id_of
from tests.test_admin_console_helpers import admin_session, api_call, new_user
from tests.test_bearer_tokens import forge

pytestmark = pytest.mark.site

EA = "ea/forecast"
#: The shared sites in host mode alone, on each database.
ON_PRODUCT_HOSTS = pytest.mark.parametrize(
    "site", [("host", backend) for backend in BACKENDS], indirect=True, ids="-".join
)


def cookie_for(site, tier: str, key: str = EA) -> str:
    """The session cookie a browser signed in as `tier` would hold for the host `key` is served
    on (made here: the handoff hands none for a product the tier does not open)."""
    http = signed_in(site, tier)
    host = urlsplit(site.product_url(key)).netloc
    return site.services.store.cookie_value(session_id_of(site, http), host)


def ask(site, url: str, cookie: str | None = None, shape: str = "nginx", **headers: str):
    """The check a proxy sends for a GET of `url` (absolute), with the client's cookie."""
    parts = urlsplit(url)
    uri = parts.path + (f"?{parts.query}" if parts.query else "")
    if shape == "nginx":
        named = {"X-Original-URI": uri, "X-Original-Method": "GET"}
        named["X-Forwarded-Host"] = parts.netloc
    else:
        named = {
            "X-Forwarded-Uri": uri,
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Host": parts.netloc,
            "X-Forwarded-Proto": parts.scheme,
        }
    return requests.get(
        site.base_url + "/auth/check",
        headers={**named, **headers},
        cookies={"portal_session": cookie} if cookie else {},
        allow_redirects=False,
        timeout=10,
    )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_a_user_whose_tier_opens_the_product_gets_200_and_who_they_are(site):
    answer = ask(site, site.product_url(EA), cookie_for(site, "ea"))
    assert answer.status_code == 200
    assert (
        answer.headers["X-Portal-User"],
        answer.headers["X-Portal-Email"],
        answer.headers["X-Portal-Name"],
        answer.headers["X-Portal-Tier"],
    ) == ("auth0|demo-ea", "ea@example.com", "Eve Early", "ea")


def verified(site, token: str, audience: str) -> dict:
    """The identity token's claims, checked as a product would: the portal's published key."""
    keys = requests.get(site.base_url + "/.well-known/jwks.json", timeout=10).json()["keys"]
    key = jwt.PyJWK(keys[0])
    return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=site.base_url)


def test_the_identity_token_verifies_with_the_portals_key_for_that_product_alone(site):
    token = ask(site, site.product_url(EA), cookie_for(site, "ea")).headers["X-Portal-Identity"]
    claims = verified(site, token, EA)
    assert (claims["sub"], claims["email"], claims["tier"]) == (
        "auth0|demo-ea",
        "ea@example.com",
        "ea",
    )
    with pytest.raises(jwt.InvalidAudienceError):
        verified(site, token, "ea/live")


def test_a_user_whose_tier_is_too_low_gets_403(site):
    answer = ask(site, site.product_url(EA), cookie_for(site, "stable"))
    assert answer.status_code == 403
    assert "X-Portal-User" not in answer.headers


@pytest.mark.parametrize(("tier", "status"), [("stable", 403), ("ea", 200)])
def test_a_stricter_sub_path_is_decided_as_the_gate_decides_it(site, tier, status):
    monolith = "stable/seistech"
    cookie = cookie_for(site, tier, monolith)
    assert ask(site, site.product_url(monolith, "/svc_hazard/api/curve"), cookie).status_code == (
        status
    )
    assert ask(site, site.product_url(monolith, "/svc_disagg/"), cookie).status_code == 200


@pytest.mark.parametrize("shape", ("nginx", "traefik"))
def test_a_path_the_deployment_removed_is_refused_to_everyone(site, shape):
    monolith = "stable/seistech"
    answer = ask(
        site,
        site.product_url(monolith, "/svc_report/api/export"),
        cookie_for(site, "admin", monolith),
        shape=shape,
    )
    if shape == "nginx":
        assert (answer.status_code, answer.headers["X-Portal-Refusal"]) == (403, "not_found")
    else:
        assert answer.status_code == 404
        assert "The requested URL was not found on the server." in answer.text


def test_nginx_is_told_where_an_anonymous_browser_signs_in(site):
    url = site.product_url(EA, "/series?n=3")
    answer = ask(site, url, Accept="text/html")
    gate = requests.get(url, allow_redirects=False, timeout=10)
    assert (answer.status_code, gate.status_code) == (401, 302)
    if not site.host_mode:
        assert answer.headers["X-Portal-Sign-In"] == gate.headers["Location"]
        assert answer.headers["X-Portal-Sign-In"] == "/login?next=%2Fea%2Fforecast%2Fseries%3Fn%3D3"
        return
    begin = answer.headers["X-Portal-Sign-In"]  # the product host's start: nginx sets no cookie
    assert begin == "/_portal/handoff?next=%2Fea%2Fforecast%2Fseries%3Fn%3D3"
    started = requests.get(
        site.product_url(EA).removesuffix("/ea/forecast/") + begin,
        allow_redirects=False,
        timeout=10,
    )
    assert started.status_code == 302
    assert without_state(started.headers["Location"]) == without_state(gate.headers["Location"])
    assert started.headers["Set-Cookie"].startswith("portal_session_handoff=")


def test_an_anonymous_api_client_gets_401_and_no_sign_in_address(site):
    answer = ask(site, site.product_url(EA), Accept="application/json")
    assert answer.status_code == 401
    assert "X-Portal-Sign-In" not in answer.headers
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="portal"'


def test_traefik_and_caddy_get_the_gates_own_sign_in_redirect(site):
    url = site.product_url(EA)
    answer = ask(site, url, shape="traefik", Accept="text/html")
    gate = requests.get(url, allow_redirects=False, timeout=10)
    assert (answer.status_code, without_state(answer.headers["Location"])) == (
        302,
        without_state(gate.headers["Location"]),
    )


def without_state(location: str) -> str:
    """A sign-in address less the handoff's state (a new one for each browser, in host mode)."""
    return re.sub(r"&state=[0-9a-f]{64}$", "", location)


def test_traefik_and_caddy_get_the_gates_own_403_page(site):
    answer = ask(site, site.product_url(EA), cookie_for(site, "stable"), shape="caddy")
    assert answer.status_code == 403
    assert "Not available with your tier" in answer.text
    assert "needs the Early access tier (ea) or higher" in answer.text


def test_traefik_and_caddy_get_200_and_who_it_is(site):
    answer = ask(site, site.product_url(EA), cookie_for(site, "devel"), shape="traefik")
    assert (answer.status_code, answer.headers["X-Portal-Tier"]) == (200, "devel")


def test_decisions_may_be_kept_by_nginx_for_the_identity_cache_lifetime(site):
    allowed = ask(site, site.product_url(EA), cookie_for(site, "ea"))
    refused = ask(site, site.product_url(EA), cookie_for(site, "stable"))
    anonymous = ask(site, site.product_url(EA))
    for answer in (allowed, refused, anonymous):
        names = [name.lower() for name in answer.raw.headers]
        assert answer.headers["X-Accel-Expires"] == "5"  # PORTAL_IDENTITY_CACHE_SECONDS
        assert answer.headers["Cache-Control"] == "no-store"
        assert names.index("x-accel-expires") < names.index("cache-control")


@pytest.mark.parametrize(("seconds", "kept"), [(5.0, "5"), (2.5, "2"), (0.5, "0"), (0.0, "0")])
def test_nginx_keeps_an_answer_no_longer_than_the_identity_cache_lasts(seconds, kept):
    checks = ForwardAuth(None, None, None, seconds)  # type: ignore[arg-type]
    assert checks.cache == [("X-Accel-Expires", kept)]


def test_a_websocket_upgrade_from_a_foreign_page_is_refused(site):
    url = site.product_url("ea/live", "/socket")
    cookie = cookie_for(site, "admin", "ea/live")
    upgrade = {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
    foreign = ask(site, url, cookie, Origin="https://evil.example", **upgrade)
    own = ask(site, url, cookie, Origin=origin_of(url), **upgrade)
    assert (foreign.status_code, own.status_code) == (403, 200)


@pytest.mark.parametrize(
    ("rest", "reason"),
    [("/", "not_a_product"), ("/login", "not_a_product"), ("/ea/nothing/", "unknown_product")],
)
def test_an_address_of_no_mounted_product_is_refused(site, rest, reason):
    cookie = cookie_for(site, "admin")
    host = urlsplit(site.product_url(EA)).netloc
    url = f"http://{host}{rest}"
    nginx = ask(site, url, cookie)
    traefik = ask(site, url, cookie, shape="traefik")
    assert (nginx.status_code, nginx.headers["X-Portal-Refusal"]) == (403, reason)
    assert (traefik.status_code, traefik.json()["error"]) == (404, reason)


@pytest.mark.parametrize(
    "rest",
    [
        "/ea/forecast/../../admin/manage/",
        "/ea/forecast/%2e%2e/%2E%2E/admin/manage/",
        "/ea/forecast%2f..%2f..%2fadmin/manage/",
        "/e%61/forecast/",
        "/ea//forecast/",
    ],
)
def test_a_path_whose_product_changes_once_normalized_is_refused(site, rest):
    host = urlsplit(site.product_url(EA)).netloc
    answer = ask(site, f"http://{host}{rest}", cookie_for(site, "admin"))
    assert (answer.status_code, answer.headers["X-Portal-Refusal"]) == (403, "ambiguous_path")


@pytest.mark.parametrize(
    ("raw", "routed"),
    [
        ("/", "/"),
        ("/ea/dash", "/ea/dash"),
        ("/ea/dash/", "/ea/dash/"),
        ("/ea//dash/./a/../b", "/ea/dash/b"),
        ("/ea/dash/a/..", "/ea/dash/"),
        ("/../../ea/", "/ea/"),
        ("/ea/dash/%2e%2E/x", "/ea/x"),
        ("/ea/dash%2Fx", "/ea/dash/x"),
        ("/caf%C3%A9", "/caf\xc3\xa9"),
    ],
)
def test_the_path_is_read_as_proxies_route_by_it(raw, routed):
    assert normalized_path(raw) == routed


def test_a_path_hiding_a_nul_is_not_read_at_all():
    assert normalized_path("/ea/dash/%00") is None


def test_dot_segments_inside_a_product_are_decided_on_the_path_the_proxy_routes_by(site):
    url = site.product_url(EA, "/a/./b/../series")
    assert ask(site, url, cookie_for(site, "ea")).status_code == 200


def test_a_path_with_raw_utf8_bytes_is_decided_and_named_as_the_browser_sent_it(portal):
    host = urlsplit(portal.base_url).netloc
    raw = "/ea/forecast/caf\xc3\xa9"  # the bytes of "café" in UTF-8, as WSGI carries them
    named = {"X-Original-URI": raw, "X-Forwarded-Host": host, "Accept": "text/html"}
    cookie = f"portal_session={cookie_for(portal, 'ea')}"
    allowed = raw_get(portal.base_url, "/auth/check", {**named, "Cookie": cookie})
    anonymous = raw_get(portal.base_url, "/auth/check", named)
    assert allowed.status == 200
    assert anonymous.headers["x-portal-sign-in"] == "/login?next=%2Fea%2Fforecast%2Fcaf%25C3%25A9"


def test_the_check_answers_whatever_host_the_proxy_addresses_the_portal_by(site):
    answer = ask(site, site.product_url(EA), cookie_for(site, "ea"), Host="portal-1:8000")
    assert answer.status_code == 200


def test_an_original_host_the_portal_does_not_serve_is_refused(site):
    cookie = cookie_for(site, "admin")
    nginx = ask(site, "http://evil.example/ea/forecast/", cookie)
    traefik = ask(site, "http://evil.example/ea/forecast/", cookie, shape="traefik")
    assert (nginx.status_code, nginx.headers["X-Portal-Refusal"]) == (403, "bad_request")
    assert traefik.status_code == 400


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "the check must name the request: X-Original-URI or X-Forwarded-Uri"),
        ({"X-Original-URI": "ea/forecast/"}, "must be a path and query"),
        ({"X-Original-URI": "http://evil.example/ea/forecast/"}, "must be a path and query"),
        ({"X-Original-URI": "/ea/forecast/ HTTP/1.1"}, "must be a path and query"),
        ({"X-Original-URI": "/ea/forecast/" + "a" * 8200}, "8 KiB at most"),
        ({"X-Original-URI": "/ea/forecast/%00"}, "the path holds an encoded NUL"),
        ({"X-Original-URI": "/ea/forecast/", "X-Original-Method": "G(E)T"}, "an HTTP method"),
        ({"X-Forwarded-Uri": "/ea/forecast/", "X-Forwarded-Proto": "gopher"}, "http or https"),
        ({"X-Forwarded-Uri": "/ea/forecast/", "X-Forwarded-Host": "a b"}, "must name the host"),
        ({"X-Forwarded-Uri": "/ea/forecast/", "X-Forwarded-Host": "a/b"}, "must name the host"),
    ],
)
def test_a_check_that_does_not_name_a_request_gets_400(portal, headers, message):
    answer = raw_get(portal.base_url, "/auth/check", headers)
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    assert message in answer.body


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        (
            {"X-Forwarded-Uri": "/ea/forecast/", "X-Original-URI": "/stable/hello/"},
            "X-Original-URI and X-Forwarded-Uri name different requests",
        ),
        (
            {"X-Forwarded-Uri": "/ea/forecast/", "X-Original-URI": "/ea/forecast/?a=1"},
            "X-Original-URI and X-Forwarded-Uri name different requests",
        ),
        (
            {"X-Original-URI": "/ea/forecast/", "X-Forwarded-Uri": "/stable/hello/"},
            "X-Original-URI and X-Forwarded-Uri name different requests",
        ),
        (
            {
                "X-Forwarded-Uri": "/ea/forecast/",
                "X-Forwarded-Method": "POST",
                "X-Original-Method": "GET",
            },
            "X-Original-Method and X-Forwarded-Method name different methods",
        ),
    ],
    ids=["client-names-a-lower-product", "client-adds-a-query", "client-beside-nginx", "method"],
)
def test_a_client_naming_another_request_beside_the_proxy_gets_400(portal, sent, message):
    """Caddy and Traefik pass every client header to the check: a stable user's own
    X-Original-URI beside the proxy's X-Forwarded-Uri must not open the ea product."""
    cookie = cookie_for(portal, "stable")
    answer = raw_get(
        portal.base_url,
        "/auth/check",
        {**sent, "X-Forwarded-Host": urlsplit(portal.base_url).netloc,
         "Cookie": f"portal_session={cookie}"},
    )
    assert answer.status == 400
    assert message in answer.body


def test_both_names_agreeing_are_read_as_one(portal):
    cookie = cookie_for(portal, "ea")
    answer = ask(portal, portal.product_url(EA), cookie, **{"X-Forwarded-Uri": "/ea/forecast/"})
    assert answer.status_code == 200


def test_the_original_method_is_taken_from_the_proxy(portal):
    cookie = cookie_for(portal, "ea")
    for shape, header in (("nginx", "X-Original-Method"), ("traefik", "X-Forwarded-Method")):
        answer = ask(portal, portal.product_url(EA), cookie, shape=shape, **{header: "POST"})
        assert answer.status_code == 200


def test_a_bearer_token_opens_the_product_as_a_session_does(portal):
    portal.services.user_sync().one("auth0|demo-ea")
    token = forge(portal, sub="auth0|demo-ea", **{portal.settings.roles_claim: ["ea"]})
    answer = ask(portal, portal.product_url(EA), Authorization=f"Bearer {token}")
    assert (answer.status_code, answer.headers["X-Portal-User"]) == (200, "auth0|demo-ea")


def test_a_grant_for_one_product_opens_it_as_the_gate_does(portal):
    subject, email = new_user(portal, [], "Granted Forward")
    http = signed_in(portal, email)
    cookie = http.cookies["portal_session"]
    assert ask(portal, portal.product_url(EA), cookie).status_code == 403
    grant = {"product": EA, "expires_at": "2099-01-01T00:00:00Z"}
    made = api_call(portal, admin_session(portal), "POST", f"/users/{subject}/grants", grant)
    assert made.status_code == 201
    deadline = time.monotonic() + 30
    while (answer := ask(portal, portal.product_url(EA), cookie)).status_code != 200:
        assert time.monotonic() < deadline, answer.status_code
        time.sleep(0.2)
    assert answer.headers["X-Portal-Tier"] == "stable"
    assert ask(portal, portal.product_url("ea/live"), cookie).status_code == 403


def test_a_refused_bearer_token_gets_401(portal):
    token = forge(portal, sub="auth0|demo-ea", exp=1)
    answer = ask(portal, portal.product_url(EA), Authorization=f"Bearer {token}")
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


@ON_PRODUCT_HOSTS
def test_in_host_mode_only_the_product_hosts_own_cookie_counts(site):
    http = signed_in(site, "ea")
    portal_cookie = http.cookies.get("portal_session", domain=urlsplit(site.base_url).hostname)
    assert ask(site, site.product_url(EA), portal_cookie).status_code == 401


@ON_PRODUCT_HOSTS
def test_in_host_mode_a_product_address_on_the_portal_host_is_refused(site):
    url = site.base_url + "/ea/forecast/"
    nginx = ask(site, url, cookie_for(site, "admin"))
    traefik = ask(site, url, shape="traefik")
    assert (nginx.status_code, nginx.headers["X-Portal-Refusal"]) == (403, "redirected")
    assert (traefik.status_code, traefik.headers["Location"]) == (307, site.product_url(EA))


@ON_PRODUCT_HOSTS
def test_in_host_mode_a_product_host_answers_for_its_own_product_only(site):
    host = urlsplit(site.product_url("stable/hello")).netloc
    answer = ask(site, f"http://{host}/ea/forecast/", cookie_for(site, "admin", "stable/hello"))
    assert (answer.status_code, answer.headers["X-Portal-Refusal"]) == (403, "not_found")


COUNTING = """
from pathlib import Path

CALLS = Path(__file__).with_name("calls")


def app(environ, start_response):
    with CALLS.open("a") as calls:
        calls.write(environ["PATH_INFO"] + "\\n")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ran"]
"""


@pytest.fixture(scope="module")
def counting(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    (apps / "stable" / "counted").mkdir(parents=True)
    (apps / "stable" / "counted" / "__init__.py").write_text(textwrap.dedent(COUNTING))
    with private_site(tmp_path_factory, apps_dir=apps) as live:
        yield live, apps / "stable" / "counted" / "calls"


def test_a_check_never_runs_the_product(counting):
    live, calls = counting
    cookie = cookie_for(live, "stable", "stable/counted")
    before = calls.read_text() if calls.exists() else ""
    answer = ask(live, live.product_url("stable/counted", "/page"), cookie)
    assert answer.status_code == 200
    assert (calls.read_text() if calls.exists() else "") == before
