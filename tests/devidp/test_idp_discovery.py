import jwt
import pytest
from devidp_support import ISSUER

pytestmark = pytest.mark.unit


def test_discovery_advertises_every_endpoint_under_the_issuer(idp):
    response = idp.browser.get("/idp/.well-known/openid-configuration")

    assert response.status_code == 200
    doc = response.get_json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert doc["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert doc["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert doc["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert doc["end_session_endpoint"] == f"{ISSUER}/oidc/logout"


def test_discovery_advertises_only_code_flow_with_s256_and_rs256(idp):
    doc = idp.browser.get("/idp/.well-known/openid-configuration").get_json()

    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "client_secret_basic",
    ]
    assert doc["scopes_supported"] == ["openid", "profile", "email", "offline_access"]
    assert doc["subject_types_supported"] == ["public"]
    assert "https://portal/roles" in doc["claims_supported"]
    assert "sid" in doc["claims_supported"]


def test_jwks_publishes_the_public_rs256_signing_key(idp):
    response = idp.browser.get("/idp/.well-known/jwks.json")

    assert response.status_code == 200
    [key] = response.get_json()["keys"]
    assert key["kty"] == "RSA"
    assert key["use"] == "sig"
    assert key["alg"] == "RS256"
    assert key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_rotated_key_signs_new_tokens_while_the_old_one_stays_published(idp):
    old_kid = idp.browser.get("/idp/.well-known/jwks.json").get_json()["keys"][0]["kid"]

    new_kid = idp.store.rotate_signing_key()
    tokens = idp.sign_in()

    kids = [k["kid"] for k in idp.browser.get("/idp/.well-known/jwks.json").get_json()["keys"]]
    assert kids == [new_kid, old_kid]
    assert idp.verify(tokens["id_token"], "portal")["sub"] == "auth0|demo-admin"
    assert jwt.get_unverified_header(tokens["id_token"])["kid"] == new_kid
