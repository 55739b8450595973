"""`current_user.access_token()`: tokens kept in the session, refreshed once, ended cleanly."""

import textwrap
import threading
import time

import pytest
import requests
from sqlalchemy import select

from db.models import Session
from tests.support.live import private_site
from tests.support.signin import sign_in

pytestmark = pytest.mark.site

ACCESS_TTL = 4
PRODUCT_API = "https://tokens.example.org/api"

TOKENS_PRODUCT = """
import jwt
from flask import jsonify

from kit import AuthFlask, current_user

app = AuthFlask(__name__)


@app.get("/token")
def token():
    claims = jwt.decode(current_user.access_token(), options={"verify_signature": False})
    return jsonify(jti=claims["jti"], exp=claims["exp"], sub=claims["sub"], aud=claims["aud"])
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    (apps / "stable" / "tokens").mkdir(parents=True)
    (apps / "stable" / "tokens" / "__init__.py").write_text(textwrap.dedent(TOKENS_PRODUCT))
    (apps / "stable" / "tokens" / "product.toml").write_text(f'audience = "{PRODUCT_API}"\n')
    with private_site(tmp_path_factory, apps_dir=apps, dev_idp_access_token_ttl=ACCESS_TTL) as live:
        yield live


def idp(site):  # the development provider's controls and counters
    return site.devidp


def refreshes(site):
    return idp(site).token_requests.get("refresh_token", 0)


def token(http, site, **options):
    return http.get(site.base_url + "/stable/tokens/token", timeout=30, **options)


def wait_for_expiry(first):
    time.sleep(max(0.0, first["exp"] - time.time()) + 0.2)


def test_the_product_gets_the_users_access_token_for_its_api(site):
    http = sign_in(site.base_url, "ea")
    answer = token(http, site).json()
    assert (answer["sub"], answer["aud"]) == ("auth0|demo-ea", PRODUCT_API)
    assert answer["exp"] > time.time()


def test_tokens_are_kept_encrypted_in_the_session_row_not_the_cookie(site):
    http = sign_in(site.base_url, "ea")
    with site.services.database.transaction() as db:
        sealed = db.scalars(select(Session.tokens).where(Session.tokens.is_not(None))).all()
    assert sealed
    assert all("eyJ" not in blob for blob in sealed)
    assert len(http.cookies["portal_session"]) < 128


def test_an_expired_access_token_is_refreshed_and_the_product_gets_a_fresh_one(site):
    http = sign_in(site.base_url, "ea")
    first = token(http, site).json()
    wait_for_expiry(first)
    before = refreshes(site)
    second = token(http, site).json()
    assert second["jti"] != first["jti"]
    assert second["exp"] > time.time()
    assert refreshes(site) == before + 1


def test_fifty_concurrent_requests_at_expiry_cause_exactly_one_refresh(site):
    http = sign_in(site.base_url, "ea")
    cookie = {"portal_session": http.cookies["portal_session"]}
    wait_for_expiry(token(http, site).json())
    before = refreshes(site)
    barrier = threading.Barrier(50)
    answers = []

    def ask():
        barrier.wait()
        answers.append(
            requests.get(site.base_url + "/stable/tokens/token", cookies=cookie, timeout=60)
        )

    threads = [threading.Thread(target=ask) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 50
    assert len({a.json()["jti"] for a in answers}) == 1
    assert {a.json()["aud"] for a in answers} == {PRODUCT_API}
    assert refreshes(site) == before + 1


def test_a_refused_refresh_ends_the_session_cleanly(site):
    email = f"refused-{time.time_ns()}@example.org"
    subject = site.idp_store.add_user(email, "pw-123456", ["ea"], "Refused")
    http = sign_in(site.base_url, email, "pw-123456")
    first = token(http, site).json()
    site.idp_store.update_user(subject, blocked=True)
    wait_for_expiry(first)
    api = token(http, site, headers={"Accept": "application/json"}, allow_redirects=False)
    assert api.status_code == 401
    assert api.json()["error"] == "unauthenticated"
    browser = token(http, site, allow_redirects=False)
    assert browser.status_code == 302
    assert browser.headers["Location"] == "/login?next=%2Fstable%2Ftokens%2Ftoken"
