"""Host mode over real HTTP: one sign-in reaches products on their own hosts, each host has a
cookie of its own handed over with a one-time code, and signing out anywhere ends it all."""

import hashlib
import re
import secrets
import shutil
import textwrap
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from auth.handoff import STATE_COOKIE_NAME as STATE_COOKIE
from portal.config import PROJECT_ROOT
from tests.support.live import private_site
from tests.support.sessions import signed_in
from tests.support.signin import sign_in, sign_in_from
from tests.support.websockets import open_socket, receive_json, refused

pytestmark = pytest.mark.site

CORS_ECHO = """
def app(environ, start_response):
    start_response("200 OK", [
        ("Content-Type", "text/plain"),
        ("Access-Control-Allow-Origin", environ.get("HTTP_ORIGIN", "*")),
        ("Access-Control-Allow-Credentials", "true"),
    ])
    return [b"shared"]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    for key in (
        "stable/hello",
        "stable/seistech",
        "ea/forecast",
        "ea/live",
        "devel/inspector",
        "admin/manage",
    ):
        shutil.copytree(PROJECT_ROOT / "apps" / key, apps / key)
    (apps / "stable" / "open_api").mkdir()
    (apps / "stable" / "open_api" / "__init__.py").write_text(textwrap.dedent(CORS_ECHO))
    with private_site(tmp_path_factory, apps_dir=apps, host_mode=True) as live:
        yield live


def host_of(url):
    return urlsplit(url).netloc


def cookie_for(http, url):
    """The session cookie a client holds for the host of `url` (cookie jars key by host name)."""
    return http.cookies.get("portal_session", domain=urlsplit(url).hostname)


def test_products_are_served_on_hosts_named_for_their_tier_and_name(site):
    assert site.product_url("stable/hello") == (
        f"http://hello--stable.{host_of(site.base_url)}/stable/hello/"
    )
    assert site.product_url("stable/open_api").startswith("http://open-api--stable.")


def test_one_sign_in_opens_products_on_three_hosts(site):
    http = signed_in(site, "admin")
    for key in ("stable/hello", "ea/forecast", "devel/inspector"):
        answer = http.get(site.product_url(key), timeout=10)
        assert (answer.status_code, answer.url) == (200, site.product_url(key)), key
    hosts = {cookie.domain for cookie in http.cookies if cookie.name == "portal_session"}
    assert len(hosts) == 4  # the portal's host and the three products'


@pytest.mark.parametrize(
    ("tier", "path", "status"),
    [
        ("stable", "svc_disagg/", 200),
        ("stable", "svc_hazard/", 403),
        ("stable", "svc_disagg/../svc_hazard/", 403),
        ("ea", "svc_hazard/", 200),
        ("stable", "svc_report/", 404),
        ("admin", "svc_report/api/export", 404),
    ],
)
def test_stricter_and_removed_paths_hold_on_the_products_own_host(site, tier, path, status):
    http = signed_in(site, tier)
    http.get(site.product_url("stable/seistech"), timeout=10)  # the handoff: this host's cookie
    url = site.product_url("stable/seistech") + path
    answer = http.get(url, timeout=10, allow_redirects=False)
    assert answer.status_code == status


def test_signing_out_on_a_product_host_ends_the_session_on_every_host(site):
    http = sign_in(site.base_url, "admin")
    hello = http.get(site.product_url("stable/hello"), timeout=10)
    forecast = site.product_url("ea/forecast")
    assert http.get(forecast, timeout=10).status_code == 200
    form = re.search(r'<form class="signout-form" method="post" action="([^"]+)">', hello.text)
    token = re.search(r'name="token" value="([^"]+)"', hello.text).group(1)
    assert form.group(1) == "/logout"  # on the product's own host, with its own cookie
    hello_origin = site.product_url("stable/hello").removesuffix("/stable/hello/")
    http.post(hello_origin + "/logout", data={"token": token}, timeout=10)
    after = http.get(forecast, allow_redirects=False, timeout=10)
    assert after.status_code == 302
    assert after.headers["Location"].startswith(site.base_url + "/_portal/handoff?")
    assert http.get(forecast, timeout=10).url.startswith(site.base_url + "/idp/authorize")


def test_signing_in_from_a_product_host_lands_back_on_it(site):
    _http, landing = sign_in_from(site.product_url("ea/forecast", "/?x=1"), "ea")
    assert (landing.status_code, landing.url) == (200, site.product_url("ea/forecast", "/?x=1"))


def test_a_product_address_on_the_portal_host_moves_to_the_products_host(site):
    answer = requests.get(site.base_url + "/ea/forecast/api?x=1", allow_redirects=False, timeout=10)
    assert (answer.status_code, answer.headers["Location"]) == (
        307,
        site.product_url("ea/forecast", "/api?x=1"),
    )


def test_a_product_host_serves_its_own_product_and_nothing_else(site):
    http = signed_in(site, "admin")
    hello_origin = site.product_url("stable/hello").removesuffix("/stable/hello/")
    http.get(site.product_url("stable/hello"), timeout=10)
    for path in ("/admin/manage/", "/ea/forecast/", "/api/me", "/login", "/sessions", "/idp/"):
        answer = http.get(hello_origin + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 404, path
    assert http.get(hello_origin + "/static/portal.css", timeout=10).status_code == 200
    root = http.get(hello_origin + "/", allow_redirects=False, timeout=10)
    assert (root.status_code, root.headers["Location"]) == (307, "/stable/hello/")


def handoff_url(site, http, key, state, next_path=None):
    """The product host's one-time-code address the portal host sends a browser to, for the
    browser whose state cookie holds `state`."""
    start = http.get(
        site.base_url + "/_portal/handoff",
        params={"product": key, "next": next_path or f"/{key}/", "state": state_digest(state)},
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 302, start.text
    return start.headers["Location"]


def state_digest(state):
    return hashlib.sha256(state.encode()).hexdigest()


def new_state():
    return secrets.token_urlsafe(32)


def test_a_handoff_code_works_once(site):
    http, state = sign_in(site.base_url, "ea"), new_state()
    url = handoff_url(site, http, "ea/forecast", state)
    cookies = {STATE_COOKIE: state}
    first = requests.get(url, cookies=cookies, allow_redirects=False, timeout=10)
    again = requests.get(url, cookies=cookies, allow_redirects=False, timeout=10)
    assert (first.status_code, first.headers["Location"]) == (302, "/ea/forecast/")
    assert "portal_session=" in first.headers["Set-Cookie"]
    assert (again.status_code, "Set-Cookie" in again.headers) == (400, False)
    assert "This sign-in link has expired" in again.text


def test_a_handoff_code_is_refused_on_another_products_host(site):
    http, state = sign_in(site.base_url, "ea"), new_state()
    code = parse_qs(urlsplit(handoff_url(site, http, "ea/forecast", state)).query)["code"][0]
    other = site.product_url("stable/hello").removesuffix("/stable/hello/")
    answer = requests.get(
        f"{other}/_portal/handoff?code={code}",
        cookies={STATE_COOKIE: state},
        allow_redirects=False,
        timeout=10,
    )
    assert (answer.status_code, "Set-Cookie" in answer.headers) == (400, False)


def test_the_handoff_never_leaves_its_code_where_the_product_can_read_it(site):
    http, state = sign_in(site.base_url, "devel"), new_state()
    url = handoff_url(site, http, "devel/inspector", state)
    answer = requests.get(url, cookies={STATE_COOKIE: state}, allow_redirects=False, timeout=10)
    assert "code=" not in answer.headers["Location"]
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"


def test_one_hosts_cookie_opens_nothing_on_another_host(site):
    http = signed_in(site, "admin")
    http.get(site.product_url("stable/hello"), timeout=10)
    stolen = cookie_for(http, site.product_url("stable/hello"))
    assert stolen
    answer = requests.get(
        site.product_url("admin/manage"),
        cookies={"portal_session": stolen},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(site.base_url + "/_portal/handoff?")


def test_admin_pages_may_not_be_framed_and_products_only_by_the_portal(site):
    http = signed_in(site, "admin")
    console = http.get(site.product_url("admin/manage"), timeout=10)
    hello = http.get(site.product_url("stable/hello"), timeout=10)
    assert console.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert console.headers["X-Frame-Options"] == "DENY"
    assert hello.headers["Content-Security-Policy"] == f"frame-ancestors {site.base_url}"
    assert "X-Frame-Options" not in hello.headers


def test_no_product_answers_credentialed_requests_from_another_products_host(site):
    http = signed_in(site, "stable")
    http.get(site.product_url("stable/open_api"), timeout=10)
    hello_origin = site.product_url("stable/hello").removesuffix("/stable/hello/")
    own_origin = site.product_url("stable/open_api").removesuffix("/stable/open_api/")
    foreign = http.get(site.product_url("stable/open_api"), headers={"Origin": hello_origin})
    own = http.get(site.product_url("stable/open_api"), headers={"Origin": own_origin})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert "Access-Control-Allow-Credentials" not in foreign.headers
    assert own.headers["Access-Control-Allow-Origin"] == own_origin


def test_websockets_are_accepted_only_from_the_products_own_host(site):
    http = signed_in(site, "ea")
    http.get(site.product_url("ea/live"), timeout=10)
    live_origin = site.product_url("ea/live").removesuffix("/ea/live/")
    cookie = cookie_for(http, live_origin)
    jar = requests.Session()
    jar.cookies.set("portal_session", cookie)
    with open_socket(live_origin, "/ea/live/ws", jar, origin=live_origin) as ws:
        assert receive_json(ws)["type"] == "hello"
    status, body = refused(live_origin, "/ea/live/ws", jar, origin=site.base_url)
    assert (status, body["error"]) == (403, "forbidden_origin")


def test_a_request_for_an_unknown_host_is_refused(site):
    port = urlsplit(site.base_url).port
    answer = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert answer.status_code == 400
    assert "does not answer for the host" in answer.text
