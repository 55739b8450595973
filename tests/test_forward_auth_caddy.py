"""deploy/Caddyfile.forward-auth, run: Debian's Caddy serves ea/dash from a server of its own
and asks the portal (a real one, signed in through Caddy) about every request.

The upstream echoes what reached it, so each test sees exactly which headers and cookies the
product got. The database plays no part in what Caddy does, so SQLite alone serves.
"""

from __future__ import annotations

import json
import shutil

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from auth.identity_token import (
    EMAIL_HEADER,
    IDENTITY_HEADER,
    NAME_HEADER,
    TIER_HEADER,
    USER_HEADER,
)
from portal.config import PROJECT_ROOT
from tests.support.caddy import PrivateCaddy, forward_auth_caddyfile
from tests.support.echo_upstream import echo_upstream
from tests.support.live import start_live_server
from tests.support.processes import free_port
from tests.support.signin import sign_in_from
from tests.test_bearer_tokens import forge

# The nginx module's helpers take any (portal, proxy) pair with a base_url.
from tests.test_forward_auth_nginx import get, signed_in, verified
from tests.test_forward_auth_traefik import portal_identity_headers

pytestmark = pytest.mark.gunicorn

DASH = "/ea/dash/"


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    """Caddy on a free port as the site's public address, the portal behind it, and ea/dash:
    an upstream product the portal knows from its product.toml and Caddy serves itself
    (stable/hello is one the portal serves)."""
    root = tmp_path_factory.mktemp("caddy-front")
    apps = root / "apps"
    shutil.copytree(PROJECT_ROOT / "apps" / "stable" / "hello", apps / "stable" / "hello")
    port = free_port()
    with echo_upstream() as upstream:
        (apps / "ea" / "dash").mkdir(parents=True)
        (apps / "ea" / "dash" / "product.toml").write_text(
            f'title = "Dash"\nupstream = "http://{upstream.address}"\n'
        )
        live = start_live_server(
            database_url=f"sqlite:///{root / 'portal.sqlite3'}",
            instance_path=root / "instance",
            apps_dir=apps,
            public_url=f"http://127.0.0.1:{port}",
        )
        # The portal by a name other than the site's, as Caddy reaches it by an internal one.
        portal = f"localhost:{live.server.server_port}"
        (root / "caddy").mkdir()
        try:
            caddy = PrivateCaddy(
                forward_auth_caddyfile(portal, upstream.address, port), root / "caddy", port
            )
        except BaseException:
            live.stop()
            raise
        try:
            yield live, caddy
        finally:
            caddy.stop()
            live.stop()


def identity_seen(answer: requests.Response) -> dict[str, str]:
    """The X-Portal-* headers the product got, but the token."""
    headers = answer.json()["headers"]
    return {
        k: v for k, v in headers.items() if k.startswith("x-portal-") and k != "x-portal-identity"
    }


def test_an_allowed_user_reaches_the_product_with_who_they_are(front):
    answer = get(front, DASH + "page?x=1", signed_in(front, "ea"))
    assert answer.status_code == 200
    assert answer.json()["path"] == "/ea/dash/page"
    assert identity_seen(answer) == {
        "x-portal-user": "auth0|demo-ea",
        "x-portal-email": "ea@example.com",
        "x-portal-name": "Eve Early",
        "x-portal-tier": "ea",
    }
    token = answer.json()["headers"]["x-portal-identity"]
    assert verified(front, token)["sub"] == "auth0|demo-ea"


def test_a_user_whose_tier_is_too_low_gets_the_portals_403(front):
    answer = get(front, DASH, signed_in(front, "stable"), Accept="application/json")
    assert (answer.status_code, answer.json()["error"]) == (403, "forbidden")


def test_a_higher_tier_opens_the_product_too(front):
    answer = get(front, DASH, signed_in(front, "admin"))
    assert identity_seen(answer)["x-portal-tier"] == "admin"


def test_an_anonymous_browser_gets_the_portals_redirect_to_sign_in(front):
    answer = get(front, DASH + "page?x=1", Accept="text/html")
    assert (answer.status_code, answer.headers["Location"]) == (
        302,
        "/login?next=%2Fea%2Fdash%2Fpage%3Fx%3D1",
    )


def test_signing_in_through_caddy_lands_back_on_the_product(front):
    _, caddy = front
    _, landed = sign_in_from(caddy.base_url + DASH + "page?x=1", "ea")
    assert (landed.url, landed.json()["path"]) == (
        caddy.base_url + DASH + "page?x=1",
        DASH + "page",
    )


def test_an_anonymous_api_client_gets_401(front):
    answer = get(front, DASH, Accept="application/json")
    assert (answer.status_code, "Location" in answer.headers) == (401, False)


def test_identity_headers_sent_by_the_client_never_reach_the_product(front):
    forged = (
        USER_HEADER,
        EMAIL_HEADER,
        NAME_HEADER,
        TIER_HEADER,
        IDENTITY_HEADER,
        "X-Portal-Extra",
    )
    spoofed = {name: "auth0|demo-admin" for name in forged}
    answer = get(front, DASH, signed_in(front, "devel"), **spoofed)
    assert identity_seen(answer) == {
        "x-portal-user": "auth0|demo-devel",
        "x-portal-email": "devel@example.com",
        "x-portal-name": "Dev Developer",
        "x-portal-tier": "devel",
    }
    assert verified(front, answer.json()["headers"]["x-portal-identity"])["sub"] == (
        "auth0|demo-devel"
    )


def test_a_client_cannot_name_another_request_for_the_portal_to_decide_on(front):
    """The request the portal decides on is the one Caddy holds, whatever names the client
    gives another: a stable user naming a stable product is still refused ea/dash."""
    named = {
        "X-Original-URI": "/stable/hello/",
        "X-Original-Method": "GET",
        "X-Forwarded-Uri": "/stable/hello/",
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Host": "elsewhere.example",
        "X-Forwarded-Proto": "https",
    }
    answer = get(front, DASH, signed_in(front, "stable"), Accept="application/json", **named)
    assert answer.status_code == 403


def test_the_portal_decides_for_the_host_and_scheme_the_client_used(front):
    """X-Forwarded-Host and -Proto are Caddy's own: a host the portal doesn't serve, named by
    the client, changes nothing."""
    named = {"X-Forwarded-Host": "elsewhere.example", "X-Forwarded-Proto": "https"}
    answer = get(front, DASH, signed_in(front, "ea"), **named)
    assert identity_seen(answer)["x-portal-user"] == "auth0|demo-ea"


def test_the_product_learns_the_sites_host_scheme_and_its_prefix(front):
    _, caddy = front
    seen = get(front, DASH, signed_in(front, "ea"), **{"X-Forwarded-Prefix": "/elsewhere"})
    forwarded = {k: v for k, v in seen.json()["headers"].items() if k.startswith("x-forwarded-")}
    assert forwarded == {
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-host": f"127.0.0.1:{caddy.port}",
        "x-forwarded-proto": "http",
        "x-forwarded-prefix": "/ea/dash",
    }


def test_a_browsers_navigation_with_its_fetch_metadata_is_checked_and_let_through(front):
    """Caddy passes the browser's Sec-Fetch-* on to the check, addressing the portal by its
    internal name: the portal answers it (a browser's own call to /auth/check it refuses)."""
    navigation = {
        "Sec-Fetch-Site": "none",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
    }
    answer = get(front, DASH, signed_in(front, "ea"), Accept="text/html", **navigation)
    assert identity_seen(answer)["x-portal-user"] == "auth0|demo-ea"


def test_the_product_never_gets_the_portal_session_cookie(front):
    cookies = {**signed_in(front, "ea"), "dash_pref": "dark"}
    assert get(front, DASH, cookies).json()["cookies"] == "dash_pref=dark"


def test_the_products_own_cookies_around_the_portals_reach_it(front):
    session = signed_in(front, "ea")["portal_session"]
    cookie = f"theme=dark; portal_session={session}; lang=en"
    assert get(front, DASH, Cookie=cookie).json()["cookies"] == "theme=dark; lang=en"


def test_a_bearer_token_opens_the_product_and_never_reaches_it(front):
    live, _ = front
    live.services.user_sync().one("auth0|demo-ea")
    token = forge(live, sub="auth0|demo-ea", **{live.settings.roles_claim: ["ea"]})
    answer = get(front, DASH, Authorization=f"Bearer {token}", Accept="application/json")
    assert identity_seen(answer)["x-portal-user"] == "auth0|demo-ea"
    assert "authorization" not in answer.json()["headers"]


def socket_to_dash(front, origin: str) -> ClientConnection:
    """A websocket to ea/dash through Caddy, signed in as an ea user, from a page of `origin`."""
    _, caddy = front
    session = signed_in(front, "ea")["portal_session"]
    return connect(
        caddy.base_url.replace("http", "ws", 1) + DASH + "socket",
        additional_headers={"Cookie": f"portal_session={session}"},
        origin=origin,
        open_timeout=10,
    )


def test_a_websocket_through_caddy_is_checked_and_then_echoes(front):
    with socket_to_dash(front, front[1].base_url) as ws:
        seen = json.loads(ws.recv(timeout=10))
        ws.send("hello")
        assert (seen["x-portal-user"], ws.recv(timeout=10)) == ("auth0|demo-ea", "hello")


def test_a_websocket_from_a_foreign_page_is_refused_by_caddy(front):
    with pytest.raises(InvalidStatus) as refused:
        socket_to_dash(front, "https://evil.example")
    assert refused.value.response.status_code == 403


def test_clients_cannot_ask_the_portals_check_through_caddy(front):
    headers = {"X-Forwarded-Uri": DASH, "X-Forwarded-Method": "GET"}
    assert get(front, "/auth/check", signed_in(front, "ea"), **headers).status_code == 404


def test_the_rest_of_the_site_is_the_portals(front):
    answer = get(front, "/stable/hello/", signed_in(front, "stable"))
    assert answer.status_code == 200


def test_caddy_copies_exactly_the_portals_identity_headers():
    caddyfile = (PROJECT_ROOT / "deploy" / "Caddyfile.forward-auth").read_text().splitlines()
    copied = next(line.split() for line in caddyfile if line.strip().startswith("copy_headers"))
    assert copied[1:] == portal_identity_headers()
