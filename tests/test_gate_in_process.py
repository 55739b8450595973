"""The Gate's decisions, in-process: a real Gate, resolver and session store on a SQLite file,
driven with werkzeug's test client (no server, no identity provider). Live-server tests keep
what needs a real server: sign-in, websockets, gunicorn, and a product raising mid-request
(the test client re-raises whatever a WSGI app reports with `exc_info`)."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from auth.gate import Gate
from auth.hosts import Origins
from auth.identity import ProductInfo
from auth.resolver import IdentityResolver
from auth.sessions import SessionStore
from auth.tiers import Tier
from auth.users import SignIn, record_sign_in
from db.engine import Database
from db.migrate import upgrade
from db.models import Grant, User
from portal.pages import ErrorPages

pytestmark = pytest.mark.site

ORIGINS = Origins.from_settings("http://portal.test", "")
HOST = "portal.test"
IDLE, LIFETIME = timedelta(hours=1), timedelta(hours=8)


def echo(environ, start_response):
    """A product that shows what reached it and tries to set cookies."""
    seen = {
        "user": environ["portal.user"].email,
        "tier": environ["portal.user"].tier.value,
        "cookie": environ.get("HTTP_COOKIE", ""),
        "remote_user": environ.get("REMOTE_USER"),
        "spoofed": sorted(
            k for k in environ if k.startswith(("HTTP_X_FORWARDED_USER", "HTTP_REMOTE_"))
        ),
    }
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Set-Cookie", "session=abc; Path=/"),
            ("Set-Cookie", "portal_session=planted; Path=/"),
        ],
    )
    return [json.dumps(seen).encode()]


@pytest.fixture
def site(tmp_path):
    url = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    upgrade(url)
    database = Database(url)
    store = SessionStore(database, "s" * 40, idle=IDLE, lifetime=LIFETIME)
    resolver = IdentityResolver(store, 5.0, ORIGINS)
    pages = ErrorPages("Portal", ORIGINS)

    def gate(tier, name="thing"):
        product = ProductInfo(tier=tier, name=name, title=name.title())
        return Client(Gate(echo, product, resolver, pages, origins=ORIGINS), use_cookies=False)

    def cookie(tier, *, roles=None):
        roles = [tier.value] if roles is None and tier is not Tier.STABLE else roles or []
        person = SignIn(f"test|{tier.value}", f"{tier.value}@x.test", "", roles)
        user = record_sign_in(database, person)
        raw = store.save(None, {}, user.id)
        return raw, user, store.cookie_value(raw, HOST)

    yield gate, cookie, store, database
    database.dispose()


def get(client, path="/", cookie=None, **headers):
    if cookie is not None:
        headers["Cookie"] = f"portal_session={cookie}"
    return client.get(path, base_url=f"http://{HOST}/stable/thing", headers=headers)


def test_anonymous_browsers_are_sent_to_sign_in_with_the_path_they_asked_for(site):
    gate, *_ = site
    answer = get(gate(Tier.STABLE), "/page?x=1")
    assert (answer.status_code, answer.headers["Location"]) == (
        302,
        "/login?next=%2Fstable%2Fthing%2Fpage%3Fx%3D1",
    )


def test_anonymous_api_clients_get_401_json(site):
    gate, *_ = site
    answer = get(gate(Tier.STABLE), Accept="application/json")
    assert (answer.status_code, answer.json["error"]) == (401, "unauthenticated")


def test_a_forged_cookie_is_no_cookie(site):
    gate, *_ = site
    assert get(gate(Tier.STABLE), cookie="forged.value").status_code == 302


def test_a_cookie_made_for_another_host_is_no_cookie(site):
    gate, _cookie, store, _db = site
    raw, _user, _value = _cookie(Tier.ADMIN)
    other = store.cookie_value(raw, "hello--stable.portal.test")
    assert get(gate(Tier.STABLE), cookie=other).status_code == 302


def test_a_user_whose_tier_opens_the_product_gets_it_with_their_identity(site):
    gate, cookie, *_ = site
    _raw, _user, value = cookie(Tier.EA)
    spoofed = {"X-Forwarded-User": "admin", "Remote-User": "admin"}
    answer = get(gate(Tier.STABLE), cookie=value, **spoofed)
    assert answer.status_code == 200
    assert answer.json == {
        "user": "ea@x.test",
        "tier": "ea",
        "cookie": "",
        "remote_user": "test|ea",
        "spoofed": [],
    }


def test_the_products_cookies_stay_in_its_mount_and_never_replace_the_portals(site):
    gate, cookie, *_ = site
    answer = get(gate(Tier.STABLE), cookie=cookie(Tier.STABLE)[2])
    assert answer.headers.getlist("Set-Cookie") == ["session=abc; Path=/stable/thing"]
    assert answer.headers["Cache-Control"] == "private"


def test_a_tier_too_low_gets_403_naming_the_tier_needed(site):
    gate, cookie, *_ = site
    answer = get(gate(Tier.DEVEL), cookie=cookie(Tier.EA)[2], Accept="application/json")
    assert answer.status_code == 403
    assert (answer.json["required_tier"], answer.json["your_tier"]) == ("devel", "ea")


def test_a_grant_opens_one_product_above_the_users_tier(site):
    gate, cookie, _store, database = site
    _raw, user, value = cookie(Tier.STABLE)
    with database.transaction() as db:
        db.add(Grant(user_id=user.id, product="devel/thing", granted_by="test"))
    assert get(gate(Tier.DEVEL), cookie=value).status_code == 200
    assert get(gate(Tier.DEVEL, "other"), cookie=value).status_code == 403


def test_a_grant_never_opens_an_admin_product(site):
    gate, cookie, _store, database = site
    _raw, user, value = cookie(Tier.DEVEL)
    with database.transaction() as db:
        db.add(Grant(user_id=user.id, product="admin/thing", granted_by="test"))
    assert get(gate(Tier.ADMIN), cookie=value).status_code == 403


def test_a_blocked_user_is_told_once_and_their_session_ends(site):
    gate, cookie, store, database = site
    raw, user, value = cookie(Tier.EA)
    with database.transaction() as db:
        db.scalars(select(User).where(User.id == user.id)).one().blocked = True
    answer = get(gate(Tier.STABLE), cookie=value)
    assert answer.status_code == 403
    assert "Account blocked" in answer.text
    assert "portal_session=;" in answer.headers["Set-Cookie"]
    assert store.load(raw) is None


def test_two_session_cookies_are_tampering_and_neither_is_used(site):
    gate, cookie, *_ = site
    value = cookie(Tier.ADMIN)[2]
    answer = gate(Tier.STABLE).get(
        "/",
        base_url=f"http://{HOST}/stable/thing",
        headers={"Cookie": f"portal_session=junk; portal_session={value}"},
    )
    assert answer.status_code == 400
    assert "Sign-in cookie tampered with" in answer.text
    cleared = answer.headers.getlist("Set-Cookie")
    at_mount = "portal_session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/stable"
    assert at_mount in cleared


def test_a_websocket_from_another_origin_is_refused_before_the_upgrade(site):
    gate, cookie, *_ = site
    answer = get(
        gate(Tier.STABLE),
        cookie=cookie(Tier.STABLE)[2],
        Upgrade="websocket",
        Connection="Upgrade",
        Origin="https://evil.example",
    )
    assert (answer.status_code, answer.json["error"]) == (403, "forbidden_origin")


def test_a_database_that_fails_gives_503_with_retry_after(site, tmp_path):
    _gate, cookie, *_ = site
    value = cookie(Tier.STABLE)[2]
    unreachable = Database(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'portal.sqlite3'}")
    store = SessionStore(unreachable, "s" * 40, idle=IDLE, lifetime=LIFETIME)
    product = ProductInfo(tier=Tier.STABLE, name="thing", title="Thing")
    resolver = IdentityResolver(store, 5.0, ORIGINS)
    gate = Gate(echo, product, resolver, ErrorPages("Portal", ORIGINS), origins=ORIGINS)
    answer = get(Client(gate, use_cookies=False), cookie=value, Accept="application/json")
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "30")
    assert answer.json["error"] == "unavailable"
