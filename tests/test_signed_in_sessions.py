"""A session made directly (`tests.support.sessions.signed_in`) is, to the portal, the session a
real sign-in leaves: the same user and products, the same pages on products' own hosts, the
same console and its CSRF-checked API, tokens that refresh, and a sign-out that ends both."""

import re

import pytest

from auth.sessions import session_key
from db.models import Session
from tests.support.signin import session_id_of, sign_in
from tests.support.websockets import open_socket, receive_json

pytestmark = pytest.mark.site


@pytest.fixture(params=["signed in", "made"])
def way(request, signed_in):
    """Each way to a signed-in client: the round trip, or the session made directly."""
    if request.param == "made":
        return signed_in
    return lambda live, tier: sign_in(live.base_url, tier)


def me(live, http) -> dict:
    answer = http.get(live.base_url + "/api/me", timeout=10)
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()


def product_links(live, http) -> list[str]:
    page = http.get(live.base_url + "/", timeout=10)
    assert page.status_code == 200
    return re.findall(r'href="([^"]+)"', page.text)


def provider_sid(live, http) -> str:
    with live.services.database.transaction() as db:
        return db.get(Session, session_key(session_id_of(live, http))).idp_sid


@pytest.mark.parametrize("tier", ["stable", "ea", "devel", "admin"])
def test_a_made_session_sees_the_user_and_products_a_sign_in_sees(site, tier, signed_in):
    real, made = sign_in(site.base_url, tier), signed_in(site, tier)
    assert me(site, made) == me(site, real)
    assert product_links(site, made) == product_links(site, real)


def test_a_made_session_opens_a_product_on_its_own_host_or_path(site, way):
    http = way(site, "ea")
    page = http.get(site.product_url("ea/forecast"), timeout=10)
    assert page.status_code == 200
    assert page.url == site.product_url("ea/forecast")


def test_a_made_session_is_stored_as_a_sign_in_stores_it(site, way):
    http = way(site, "ea")
    raw_id = session_id_of(site, http)
    stored = site.services.store.load(raw_id)
    tokens = site.services.tokens.tokens(raw_id)
    assert stored.data == {}
    assert tokens.refresh_token and tokens.id_token and tokens.access_token
    assert sorted((c.name, c.path) for c in http.cookies) == [
        ("devidp_session", "/idp"),
        ("portal_session", "/"),
    ]


def test_a_made_session_gets_a_product_token_by_refreshing(portal, way):
    http = way(portal, "ea")
    token = portal.services.tokens.access_token(
        session_id_of(portal, http), "https://reports.example/", "read:reports"
    )
    assert token.count(".") == 2


def test_a_made_admin_session_uses_the_console_and_its_api(portal, way):
    from tests.test_admin_console_helpers import api_token, console_url

    http = way(portal, "admin")
    assert http.get(console_url(portal, "/"), timeout=10).status_code == 200
    answer = http.get(
        console_url(portal, "/api/users"),
        headers={"X-CSRFToken": api_token(portal, http), "Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[:500]


def test_a_made_session_opens_a_websocket(portal, way):
    http = way(portal, "ea")
    with open_socket(portal.base_url, "/ea/live/ws", http) as ws:
        assert receive_json(ws)["name"] == "Eve Early"


def test_signing_out_a_made_session_ends_it_at_the_portal_and_the_provider(portal, way):
    http = way(portal, "ea")
    sid = provider_sid(portal, http)
    assert portal.idp_store.get_login_session(sid) is not None
    page = http.get(portal.base_url + "/", timeout=10).text
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    out = http.post(portal.base_url + "/logout", data={"token": token}, timeout=10)
    assert out.url == portal.base_url + "/"
    assert http.get(portal.base_url + "/api/me", timeout=10).status_code == 401
    assert portal.idp_store.get_login_session(sid) is None
