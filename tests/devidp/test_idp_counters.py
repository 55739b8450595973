"""Token endpoint counters, and short token lifetimes honoured everywhere (expiry for real)."""

import threading
import time

import pytest
from devidp_support import CLIENT_ID, Idp, make_settings, mount

from conftest import copy_seeded
from devidp import create_dev_idp

pytestmark = pytest.mark.unit


def test_token_requests_are_counted_by_grant_type(idp):
    counts = idp.app.extensions["devidp"].token_requests
    assert counts == {}

    refresh = idp.sign_in()["refresh_token"]
    refresh = idp.token(grant_type="refresh_token", refresh_token=refresh).get_json()
    idp.token(grant_type="refresh_token", refresh_token=refresh["refresh_token"])
    idp.token(grant_type="refresh_token", refresh_token="unknown")  # refused, still counted

    assert counts == {"authorization_code": 1, "refresh_token": 3}
    assert counts["client_credentials"] == 0
    counts.reset()
    assert counts.snapshot() == {}


def test_concurrent_token_requests_are_all_counted_and_a_refresh_token_works_once(idp):
    refresh_token = idp.sign_in()["refresh_token"]
    statuses: list[int] = []
    start = threading.Barrier(50)

    def refresh() -> None:
        browser = Idp(idp.app, mount(idp.app))
        start.wait()
        statuses.append(
            browser.token(grant_type="refresh_token", refresh_token=refresh_token).status_code
        )

    threads = [threading.Thread(target=refresh) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert idp.app.extensions["devidp"].token_requests["refresh_token"] == 50
    assert statuses.count(200) == 1
    assert statuses.count(400) == 49


def test_counts_belong_to_one_provider_instance(idp, db_path):
    other = create_dev_idp(make_settings(db_path))

    idp.sign_in()

    assert idp.app.extensions["devidp"].token_requests["authorization_code"] == 1
    assert other.extensions["devidp"].token_requests == {}


@pytest.fixture
def short(db_path, seeded_db) -> Idp:
    copy_seeded(seeded_db, db_path)
    settings = make_settings(db_path, access_token_ttl=2, id_token_ttl=3, refresh_token_ttl=4)
    app = create_dev_idp(settings)
    return Idp(app, mount(app))


def lifetime(claims: dict) -> int:
    return claims["exp"] - claims["iat"]


def test_short_lifetimes_are_in_every_token(short):
    tokens = short.sign_in()
    refreshed = short.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    for body in (tokens, refreshed.get_json()):
        assert body["expires_in"] == 2
        assert lifetime(short.verify(body["access_token"], "portal-api")) == 2
        assert lifetime(short.verify(body["id_token"], CLIENT_ID)) == 3
    token = short.app.extensions["devidp"].access_token_for("devel@example.com")
    assert lifetime(short.verify(token, "portal-api")) == 2


def test_short_lived_tokens_really_expire(short):
    tokens = short.sign_in()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert short.browser.get("/idp/userinfo", headers=bearer).status_code == 200
    time.sleep(2.1)  # the access token has expired, the refresh token (4 s) has not

    assert short.browser.get("/idp/userinfo", headers=bearer).status_code == 401
    refreshed = short.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200
    fresh = refreshed.get_json()
    bearer = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert short.browser.get("/idp/userinfo", headers=bearer).status_code == 200
    time.sleep(4.1)  # the rotated refresh token gets the full 4 s again, then expires

    expired = short.token(grant_type="refresh_token", refresh_token=fresh["refresh_token"])
    assert expired.status_code == 400
    assert expired.get_json()["error"] == "invalid_grant"


def test_a_blocked_users_refresh_is_invalid_grant_like_auth0(idp):
    refresh_token = idp.sign_in("ea@example.com", "ea")["refresh_token"]
    idp.store.update_user("auth0|demo-ea", blocked=True)

    refused = idp.token(grant_type="refresh_token", refresh_token=refresh_token)

    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_grant"
