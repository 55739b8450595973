"""Tokens for other APIs from the sign-in's refresh token, and the admin scope, as Auth0 gives them.

Auth0's multi-resource refresh tokens: a refresh grant naming `audience` gets an access token for
that API, the refresh token rotating as always. With RBAC, `scope` holds only what was asked for
and the user's roles allow: `portal:admin` comes only with the admin role, never merely asked for.
"""

import pytest
from devidp_support import CLIENT_ID, MANAGEMENT_AUDIENCE

pytestmark = pytest.mark.unit

FORECAST_API = "https://forecast.example.org/api"
SIGN_IN_SCOPE = "openid profile email offline_access"


def refresh(idp, refresh_token, **params):
    return idp.token(grant_type="refresh_token", refresh_token=refresh_token, **params)


def test_a_refresh_naming_an_audience_gets_a_token_for_exactly_that_api(idp):
    tokens = idp.sign_in("ea@example.com", "ea")

    answer = refresh(idp, tokens["refresh_token"], audience=FORECAST_API, scope="read:forecast")

    body = answer.get_json()
    claims = idp.verify(body["access_token"], FORECAST_API)
    assert answer.status_code == 200
    assert (claims["aud"], claims["scope"], claims["sub"]) == (
        FORECAST_API,
        "read:forecast",
        "auth0|demo-ea",
    )
    assert body["scope"] == "read:forecast"
    assert "id_token" not in body


def test_a_refresh_for_another_api_rotates_the_refresh_token_and_keeps_the_sign_ins_grant(idp):
    first = idp.sign_in("ea@example.com", "ea")["refresh_token"]

    second = refresh(idp, first, audience=FORECAST_API, scope="read:forecast").get_json()
    reused = refresh(idp, first, audience=FORECAST_API)
    portal = refresh(idp, second["refresh_token"]).get_json()

    assert second["refresh_token"] != first
    assert (reused.status_code, reused.get_json()["error"]) == (400, "invalid_grant")
    assert portal["scope"] == SIGN_IN_SCOPE
    assert idp.verify(portal["access_token"], "portal-api")["scope"] == SIGN_IN_SCOPE
    assert idp.verify(portal["id_token"], CLIENT_ID)["sub"] == "auth0|demo-ea"


def test_a_refresh_for_another_api_without_a_scope_keeps_the_sign_ins_scopes(idp):
    tokens = idp.sign_in("ea@example.com", "ea")

    body = refresh(idp, tokens["refresh_token"], audience=FORECAST_API).get_json()

    assert idp.verify(body["access_token"], FORECAST_API)["scope"] == SIGN_IN_SCOPE


def test_the_admin_scope_is_granted_to_an_admin_who_asks_for_it(idp):
    tokens = idp.sign_in(scope="openid email offline_access portal:admin")

    assert idp.verify(tokens["access_token"], "portal-api")["scope"] == (
        "openid email offline_access portal:admin"
    )


def test_a_non_admin_asking_for_the_admin_scope_does_not_get_it(idp):
    tokens = idp.sign_in("devel@example.com", "devel", scope="openid portal:admin")

    assert tokens["scope"] == "openid"
    assert idp.verify(tokens["access_token"], "portal-api")["scope"] == "openid"


def test_an_admin_who_did_not_ask_for_the_admin_scope_cannot_add_it_at_refresh(idp):
    tokens = idp.sign_in()

    answer = refresh(idp, tokens["refresh_token"], scope="openid portal:admin")

    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_scope")


def test_the_admin_scope_never_comes_with_a_token_for_another_api(idp):
    tokens = idp.sign_in(scope="openid offline_access portal:admin")

    body = refresh(
        idp, tokens["refresh_token"], audience=FORECAST_API, scope="read:forecast portal:admin"
    ).get_json()

    assert idp.verify(body["access_token"], FORECAST_API)["scope"] == "read:forecast"


def test_a_users_refresh_token_never_reaches_the_management_api(idp):
    tokens = idp.sign_in()

    answer = refresh(idp, tokens["refresh_token"], audience=MANAGEMENT_AUDIENCE)

    assert answer.status_code == 403
    assert answer.get_json() == {
        "error": "access_denied",
        "error_description": "The Management API is not available with a user's refresh token.",
    }
