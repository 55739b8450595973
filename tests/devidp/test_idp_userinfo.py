import pytest
from devidp_support import ROLES

pytestmark = pytest.mark.unit


def test_userinfo_returns_the_users_claims_for_a_bearer_access_token(idp):
    access_token = idp.sign_in("ea@example.com", "ea")["access_token"]

    response = idp.browser.get("/idp/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    assert response.status_code == 200
    assert response.get_json() == {
        "sub": "auth0|demo-ea",
        "email": "ea@example.com",
        "email_verified": True,
        "name": "Eve Early",
        ROLES: ["ea"],
    }


def test_userinfo_without_a_token_is_401_json(idp):
    response = idp.browser.get("/idp/userinfo")

    assert response.status_code == 401
    assert response.get_json()["error"] == "missing_authorization"


def test_userinfo_with_a_forged_token_is_401_invalid_token(idp):
    access_token = idp.sign_in()["access_token"]
    header, payload, signature = access_token.split(".")
    forged = ".".join([header, payload, signature[::-1]])

    response = idp.browser.get("/idp/userinfo", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_userinfo_refuses_an_id_token_used_as_access_token(idp):
    id_token = idp.sign_in()["id_token"]

    response = idp.browser.get("/idp/userinfo", headers={"Authorization": f"Bearer {id_token}"})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
