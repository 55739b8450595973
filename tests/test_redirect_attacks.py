"""Every route that answers with a redirect, fed what attackers feed it, on werkzeug's server and
gunicorn, in path and host mode: the exact status, no header the request smuggled in, and never
a Location off the portal's own hosts (one function builds them all: `auth.locations`).

Each request is written as it is (tests/support/raw.py): a client library would re-encode it.
A redirect to the portal's own host is followed (a few hops), since chains are how an open
redirect hides (`/login?next=` -> `/stable/evil.com%23/` -> `http://evil.com#...`).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from urllib.parse import quote, urljoin, urlsplit

import pytest

from auth.hosts import Origins
from db.engine import Database
from db.migrate import upgrade
from db.product_moves import record_move
from portal.config import PROJECT_ROOT
from tests.support.live import start_live_server
from tests.support.processes import Gunicorn
from tests.support.raw import RawResponse, raw_get
from tests.support.signin import sign_in
from tests.support.tiers import on_server

MOUNTED = ("stable/hello", "admin/manage")
#: A product that moved: its old address answers 308 to stable/hello.
MOVED_FROM = "devel/gone"
INJECTED = "Set-Cookie:%20injected=1"
PAYLOADS = {
    "CR": f"x%0d{INJECTED}",
    "LF": f"x%0a{INJECTED}",
    "CRLF": f"x%0d%0a{INJECTED}",
    "NUL": "x%00y",
    "%23": "evil.com%23",
    "%3F": "evil.com%3F",
    "%5C": "evil.com%5C",
    "//host": "/evil.com",
    "/\\host": "\\evil.com",
    "@host": "@evil.com",
    "host-like": "evil.com",
    "double CRLF": f"x%250d%250a{INJECTED}",
    "double %23": "evil.com%2523",
}
CONTROL = {"CR", "LF", "CRLF", "NUL"}


def site_apps(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    for key in MOUNTED:
        shutil.copytree(PROJECT_ROOT / "apps" / key, apps / key)
    return apps


def database_with_a_move(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite3'}"
    upgrade(url)
    database = Database(url)
    record_move(database, MOVED_FROM, "stable/hello")
    database.dispose()
    return url


class Site:
    def __init__(self, base_url: str, host_mode: bool, stop) -> None:
        self.base_url = base_url
        self.host_mode = host_mode
        netloc = urlsplit(base_url).netloc
        self.origins = Origins.from_settings(base_url, netloc if host_mode else "")
        self.stop = stop
        self.cookie = sign_in(base_url, "stable").cookies["portal_session"]

    def product_base(self, key: str) -> str:
        return self.origins.product_origin(key)


@pytest.fixture(
    scope="module",
    params=[
        on_server((server, mode), server)
        for server in ("werkzeug", "gunicorn")
        for mode in ("path", "host")
    ],
    ids=lambda param: "-".join(param),
)
def site(request, tmp_path_factory):
    server, mode = request.param
    apps, url = site_apps(tmp_path_factory), database_with_a_move(tmp_path_factory)
    if server == "werkzeug":
        live = start_live_server(
            database_url=url,
            instance_path=tmp_path_factory.mktemp("instance"),
            apps_dir=apps,
            host_mode=mode == "host",
        )
        started = Site(live.base_url, mode == "host", live.stop)
    else:
        instance = tmp_path_factory.mktemp("instance")
        gunicorn = Gunicorn(
            {
                "DATABASE_URL": url,
                "PORTAL_INSTANCE_PATH": str(instance),
                "PORTAL_APPS_DIR": str(apps),
            },
            workers=1,
            log_path=instance / "gunicorn.log",
            host_mode=mode == "host",
        )
        started = Site(gunicorn.base_url, mode == "host", gunicorn.stop)
    yield started
    started.stop()


def allowed(site: Site, location: str) -> bool:
    """A Location on the portal's host, a mounted product's, or a path on the same host."""
    if location.startswith("/"):
        return not location.startswith("//") and "\\" not in location
    parts = urlsplit(location)
    if parts.scheme != "http" or "@" in parts.netloc:
        return False
    hosts = {site.origins.portal_host} | {
        site.origins.product_host(key) for key in MOUNTED if site.host_mode
    }
    return parts.netloc in hosts


#: Headers holding a URL, where the payload may stand (encoded).
URL_HEADERS = frozenset({"location", "x-portal-sign-in"})


def no_injection(answer: RawResponse) -> bool:
    """No header but a URL (where the payload may stand, encoded) carries the payload."""
    return all(
        "injected" not in f"{name}{value}"
        for name, value in answer.headers.items()
        if name not in URL_HEADERS
    )


def check(site: Site, base: str, target: str, headers: dict, status: int) -> None:
    """The answer's exact status, nothing smuggled, and every redirect on the portal's hosts,
    followed while it stays on the portal's host."""
    answer = raw_get(base, target, headers)
    assert answer.status == status, (target, answer.status, answer.headers, answer.body[:300])
    for _hop in range(3):
        assert answer.status < 500 and no_injection(answer), (target, answer.headers)
        location = answer.headers.get("location")
        if location is None:
            return
        assert allowed(site, location), (target, location)
        following = urljoin(base + "/", location)
        parts = urlsplit(following)
        if parts.netloc != site.origins.portal_host:
            return
        base = f"{parts.scheme}://{parts.netloc}"
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        answer = raw_get(base, target, headers)


def signed_in(site: Site) -> dict:
    return {"Cookie": f"portal_session={site.cookie}"}


def state_digest() -> str:
    return hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest()


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_a_product_name_that_is_not_mounted_is_never_made_a_host(site, payload):
    """`/stable/evil.com%23/` once answered 307 to `http://evil.com#--stable.<domain>/`."""
    status = 400 if payload in CONTROL else 404
    check(site, site.base_url, f"/stable/{PAYLOADS[payload]}/", {}, status)


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_a_product_page_address_on_the_portal_host(site, payload):
    """Host mode sends it to the product's host (307); path mode's Gate to sign-in (302)."""
    status = 400 if payload in CONTROL else (307 if site.host_mode else 302)
    check(site, site.base_url, f"/stable/hello/{PAYLOADS[payload]}", {}, status)


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_a_moved_products_old_address(site, payload):
    status = 400 if payload in CONTROL else 308
    check(site, site.base_url, f"/{MOVED_FROM}/{PAYLOADS[payload]}", {}, status)


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_the_gates_sign_in_redirect_where_the_product_is_served(site, payload):
    """On the product's own host in host mode (to the handoff), on the portal's in path mode."""
    status = 400 if payload in CONTROL else 302
    base = site.product_base("stable/hello")
    check(site, base, f"/stable/hello/{PAYLOADS[payload]}", {}, status)


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_sign_in_next_for_someone_signed_in(site, payload):
    """`/login?next=/stable/evil.com%2523/` once landed the signed-in user on evil.com."""
    status = 400 if payload in CONTROL else 302
    target = "/login?next=" + quote(f"/stable/{PAYLOADS[payload]}/", safe="/%\\")
    check(site, site.base_url, target, signed_in(site), status)


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_the_handoff_start_on_the_portal_host(site, payload):
    status = 400 if payload in CONTROL else (302 if site.host_mode else 404)
    next_path = quote(f"/stable/hello/{PAYLOADS[payload]}", safe="/%\\")
    target = f"/_portal/handoff?product=stable/hello&state={state_digest()}&next={next_path}"
    check(site, site.base_url, target, signed_in(site), status)


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_forward_auth_for_a_product_address(site, payload):
    """Traefik and Caddy pass the check's answer, Location and all, to the browser."""
    status = 400 if payload == "NUL" else (307 if site.host_mode else 302)
    headers = {
        "X-Forwarded-Uri": f"/stable/hello/{PAYLOADS[payload]}",
        "X-Forwarded-Host": site.origins.portal_host,
        "X-Forwarded-Proto": "http",
    }
    check(site, site.base_url, "/auth/check", headers, status)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api//me", 404),
        ("/sessions/", 404),
        ("/logout/", 404),
        ("/login//", 404),
        ("//sessions", 200),
    ],
)
def test_the_portals_own_pages_never_redirect_to_mend_a_path(site, path, status):
    """werkzeug would answer `/api//me` with a 308 to `/api/me`, a Location of its own making."""
    answer = raw_get(site.base_url, path, signed_in(site))
    assert (answer.status, "location" in answer.headers) == (status, False)


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_forward_auth_for_nginx_names_only_the_portals_addresses(site, payload):
    """nginx takes 401 (with X-Portal-Sign-In, where it sends the browser) or 403; in host mode a
    product address on the portal's host is a redirect, which nginx gets as 403."""
    status = 400 if payload == "NUL" else (403 if site.host_mode else 401)
    headers = {
        "X-Original-URI": f"/stable/hello/{PAYLOADS[payload]}",
        "X-Forwarded-Host": site.origins.portal_host,
    }
    answer = raw_get(site.base_url, "/auth/check", headers)
    sign_in_at = answer.headers.get("x-portal-sign-in")
    assert (answer.status, no_injection(answer)) == (status, True)
    assert sign_in_at is None if status != 401 else allowed(site, sign_in_at)


@pytest.mark.parametrize("payload", PAYLOADS, ids=str)
def test_forward_auth_for_nginx_on_the_products_own_host(site, payload):
    """Host mode's X-Portal-Sign-In is the product host's own start of the handoff."""
    status = 400 if payload == "NUL" else 401
    headers = {
        "X-Original-URI": f"/stable/hello/{PAYLOADS[payload]}",
        "X-Forwarded-Host": urlsplit(site.product_base("stable/hello")).netloc,
    }
    answer = raw_get(site.base_url, "/auth/check", headers)
    assert (answer.status, no_injection(answer)) == (status, True)
    if status == 401:
        sign_in_at = answer.headers["x-portal-sign-in"]
        start = "/_portal/handoff?next=" if site.host_mode else "/login?next="
        assert sign_in_at.startswith(start) and allowed(site, sign_in_at)
