import pytest
from devidp_support import CLIENT_ID, ROLES

pytestmark = pytest.mark.unit


def test_refresh_token_rotates_and_the_old_one_is_refused(idp):
    first = idp.sign_in()["refresh_token"]

    refreshed = idp.token(grant_type="refresh_token", refresh_token=first)
    reused = idp.token(grant_type="refresh_token", refresh_token=first)

    assert refreshed.status_code == 200
    second = refreshed.get_json()["refresh_token"]
    assert second != first
    assert reused.status_code == 400
    assert reused.get_json()["error"] == "invalid_grant"
    assert idp.token(grant_type="refresh_token", refresh_token=second).status_code == 200


def test_refresh_returns_a_new_id_token_with_the_same_sid(idp):
    tokens = idp.sign_in()

    refreshed = idp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    before = idp.verify(tokens["id_token"], CLIENT_ID)
    after = idp.verify(refreshed.get_json()["id_token"], CLIENT_ID)
    assert after["sid"] == before["sid"]
    assert after["sub"] == before["sub"]
    assert "nonce" not in after


def test_no_refresh_token_without_offline_access(idp):
    tokens = idp.sign_in(scope="openid profile email")

    assert "refresh_token" not in tokens
    assert tokens["scope"] == "openid profile email"


def test_unknown_scopes_are_dropped_like_auth0_does(idp):
    tokens = idp.sign_in(scope="openid email read:everything")

    assert tokens["scope"] == "openid email"


def test_role_change_shows_in_the_next_refresh(idp):
    tokens = idp.sign_in("ea@example.com", "ea")
    idp.store.set_roles("auth0|demo-ea", ["devel"])

    refreshed = idp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    body = refreshed.get_json()
    assert idp.verify(body["access_token"], "portal-api")[ROLES] == ["devel"]
    assert idp.verify(body["id_token"], CLIENT_ID)[ROLES] == ["devel"]


def test_role_change_shows_in_the_next_login(idp):
    idp.sign_in("stable@example.com", "stable")
    idp.store.set_roles("auth0|demo-stable", ["ea"])

    tokens = idp.sign_in()  # single sign-on: same user, no form

    assert idp.verify(tokens["id_token"], CLIENT_ID)[ROLES] == ["ea"]
