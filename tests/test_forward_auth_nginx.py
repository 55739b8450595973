"""deploy/nginx-forward-auth.conf, run: Debian's nginx serves ea/dash from a server of its own
and asks the portal (a real one, signed in through nginx) about every request.

The upstream echoes what reached it, so each test sees exactly which headers and cookies the
product got.
"""

from __future__ import annotations

import json
import shutil
import time

import jwt
import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from auth.metrics import GATE_DECISIONS
from portal.config import PROJECT_ROOT
from tests.support.databases import BACKENDS, database_url_for
from tests.support.echo_upstream import echo_upstream
from tests.support.live import start_live_server
from tests.support.nginx import PrivateNginx, forward_auth_config
from tests.support.processes import free_port
from tests.support.signin import sign_in
from tests.test_admin_console_helpers import admin_session, api_call, new_user
from tests.test_bearer_tokens import forge

pytestmark = pytest.mark.gunicorn

DASH = "/ea/dash/"
BLOCK_DEADLINE = 60  # seconds; a block applies within the identity cache's 5 s


@pytest.fixture(scope="module", params=BACKENDS)
def front(request, tmp_path_factory):
    """nginx on a free port as the site's public address, the portal behind it, and ea/dash:
    an upstream product the portal knows from its product.toml and nginx serves itself."""
    root = tmp_path_factory.mktemp("front")
    apps = root / "apps"
    shutil.copytree(PROJECT_ROOT / "apps" / "admin" / "manage", apps / "admin" / "manage")
    port = free_port()
    with echo_upstream() as upstream, database_url_for(request.param, tmp_path_factory) as url:
        (apps / "ea" / "dash").mkdir(parents=True)
        (apps / "ea" / "dash" / "product.toml").write_text(
            f'title = "Dash"\nupstream = "http://{upstream.address}"\n'
        )
        live = start_live_server(
            database_url=url,
            instance_path=root / "instance",
            apps_dir=apps,
            public_url=f"http://127.0.0.1:{port}",
        )
        portal = f"127.0.0.1:{live.server.server_port}"
        config = forward_auth_config(portal, upstream.address, port, root / "cache")
        nginx = PrivateNginx(config, root, port)
        try:
            yield live, nginx
        finally:
            nginx.stop()
            live.stop()


def signed_in(front, tier_or_email: str, password: str | None = None) -> dict[str, str]:
    live, _ = front
    http = sign_in(live.base_url, tier_or_email, password)
    return {"portal_session": http.cookies["portal_session"]}


def get(front, path: str, cookies: dict | None = None, **headers: str) -> requests.Response:
    _, nginx = front
    return requests.get(
        nginx.base_url + path, cookies=cookies, headers=headers, allow_redirects=False, timeout=10
    )


def test_an_allowed_user_reaches_the_product_with_who_they_are(front):
    answer = get(front, DASH + "page", signed_in(front, "ea"))
    assert answer.status_code == 200
    seen = answer.json()
    assert seen["path"] == "/ea/dash/page"
    headers = seen["headers"]
    token = headers.pop("x-portal-identity")
    assert {k: v for k, v in headers.items() if k.startswith("x-portal-")} == {
        "x-portal-user": "auth0|demo-ea",
        "x-portal-email": "ea@example.com",
        "x-portal-name": "Eve Early",
        "x-portal-tier": "ea",
    }
    assert verified(front, token)["sub"] == "auth0|demo-ea"


def verified(front, token: str) -> dict:
    """The identity token checked as the product would, with the portal's published key."""
    live, nginx = front
    keys = requests.get(nginx.base_url + "/.well-known/jwks.json", timeout=10).json()["keys"]
    return jwt.decode(
        token, jwt.PyJWK(keys[0]), algorithms=["RS256"], audience="ea/dash", issuer=live.base_url
    )


def test_a_browsers_request_with_its_fetch_metadata_is_checked_and_let_through(front):
    """nginx passes the browser's Sec-Fetch-* on to the check, addressing the portal by its
    internal name: the portal answers it (a browser's own call to /auth/check it refuses)."""
    metadata = {
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
    }
    answer = get(front, DASH + "api", signed_in(front, "ea"), **metadata)
    assert answer.status_code == 200
    assert answer.json()["headers"]["x-portal-user"] == "auth0|demo-ea"


def test_a_user_whose_tier_is_too_low_gets_403_from_nginx(front):
    assert get(front, DASH, signed_in(front, "stable")).status_code == 403


def checks_of(tier: str) -> float:
    """How many decisions the Gate of ea/dash made for users of `tier` so far (this process)."""
    wanted = {"product": "ea/dash", "tier": tier, "decision": "allowed"}
    samples = [s for metric in GATE_DECISIONS.collect() for s in metric.samples]
    return next((s.value for s in samples if s.name.endswith("_total") and s.labels == wanted), 0.0)


def test_nginx_keeps_the_portals_answer_instead_of_asking_for_every_request(front):
    cookies = signed_in(front, "devel")
    before = checks_of("devel")
    statuses = [get(front, DASH + "cached", cookies).status_code for _ in range(10)]
    assert statuses == [200] * 10
    assert 1 <= checks_of("devel") - before < 10


def test_an_anonymous_browser_is_sent_to_sign_in_and_lands_back_on_the_product(front):
    live, nginx = front
    answer = get(front, DASH + "page?x=1", Accept="text/html")
    assert answer.status_code == 302
    assert answer.headers["Location"] == (
        f"{nginx.base_url}/login?next=%2Fea%2Fdash%2Fpage%3Fx%3D1"
    )
    http = sign_in(live.base_url, "ea", next_path="/ea/dash/page?x=1")
    assert http.get(nginx.base_url + "/ea/dash/page?x=1", timeout=10).json()["path"] == (
        "/ea/dash/page"
    )


def test_an_anonymous_api_client_gets_401(front):
    answer = get(front, DASH, Accept="application/json")
    assert (answer.status_code, "Location" in answer.headers) == (401, False)


def test_identity_headers_sent_by_the_client_never_reach_the_product(front):
    spoofed = {
        "X-Portal-User": "auth0|demo-admin",
        "X-Portal-Email": "admin@example.com",
        "X-Portal-Name": "Ada Admin",
        "X-Portal-Tier": "admin",
        "X-Portal-Identity": "forged.jwt.value",
    }
    seen = get(front, DASH, signed_in(front, "devel"), **spoofed).json()["headers"]
    assert (seen["x-portal-user"], seen["x-portal-tier"]) == ("auth0|demo-devel", "devel")
    assert seen["x-portal-email"] == "devel@example.com"
    assert verified(front, seen["x-portal-identity"])["sub"] == "auth0|demo-devel"


def test_the_product_never_gets_the_portal_session_cookie(front):
    cookies = {**signed_in(front, "ea"), "dash_pref": "dark"}
    seen = get(front, DASH, cookies).json()
    assert seen["cookies"] == "dash_pref=dark"


def test_a_bearer_token_opens_the_product_and_never_reaches_it(front):
    live, _ = front
    live.services.user_sync().one("auth0|demo-ea")
    token = forge(live, sub="auth0|demo-ea", **{live.settings.roles_claim: ["ea"]})
    answer = get(front, DASH, Authorization=f"Bearer {token}", Accept="application/json")
    assert answer.status_code == 200
    assert answer.json()["headers"]["x-portal-user"] == "auth0|demo-ea"
    assert "authorization" not in answer.json()["headers"]


def test_a_websocket_through_nginx_is_checked_and_then_echoes(front):
    _, nginx = front
    cookie = signed_in(front, "ea")["portal_session"]
    url = nginx.base_url.replace("http", "ws", 1) + DASH + "socket"
    with connect(
        url,
        additional_headers={"Cookie": f"portal_session={cookie}"},
        origin=nginx.base_url,
        open_timeout=10,
    ) as ws:
        seen = json.loads(ws.recv(timeout=10))
        ws.send("hello")
        assert (seen["x-portal-user"], ws.recv(timeout=10)) == ("auth0|demo-ea", "hello")


def test_a_websocket_from_a_foreign_page_is_refused_by_nginx(front):
    _, nginx = front
    cookie = signed_in(front, "ea")["portal_session"]
    url = nginx.base_url.replace("http", "ws", 1) + DASH + "socket"
    with pytest.raises(InvalidStatus) as refused:
        connect(
            url,
            additional_headers={"Cookie": f"portal_session={cookie}"},
            origin="https://evil.example",
            open_timeout=10,
        )
    assert refused.value.response.status_code == 403


def test_clients_cannot_ask_the_portals_check_through_nginx(front):
    headers = {"X-Original-URI": DASH, "X-Forwarded-Host": "127.0.0.1"}
    assert get(front, "/auth/check", signed_in(front, "ea"), **headers).status_code == 404
    assert get(front, "/_portal/auth", signed_in(front, "ea")).status_code == 404


def test_a_blocked_user_is_refused_within_seconds(front):
    live, _ = front
    subject, email = new_user(live, ["ea"], "Forward Blocked")
    cookies = signed_in(front, email, "pw-123456")
    assert get(front, DASH, cookies).status_code == 200
    admin = admin_session(live)
    assert api_call(live, admin, "POST", f"/users/{subject}/block").status_code == 200
    deadline = time.monotonic() + BLOCK_DEADLINE
    while get(front, DASH, cookies).status_code == 200:
        assert time.monotonic() < deadline, "the block did not reach nginx"
        time.sleep(0.2)
    # 403 "blocked" while nginx keeps that answer, then sign-in: the session was ended.
    assert {get(front, DASH, cookies).status_code for _ in range(3)} <= {403, 302}
