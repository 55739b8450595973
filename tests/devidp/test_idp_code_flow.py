import jwt
import pytest
from devidp_support import CALLBACK, CLIENT_ID, CLIENT_SECRET, ISSUER, ROLES, form_fields, query_of

from devidp import models

pytestmark = pytest.mark.unit


def test_code_flow_with_pkce_returns_an_id_token_that_verifies_against_the_jwks(idp):
    tokens = idp.sign_in(nonce="n-0S6_WzA2Mj")

    claims = idp.verify(tokens["id_token"], audience=CLIENT_ID)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == CLIENT_ID
    assert claims["sub"] == "auth0|demo-admin"
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims[ROLES] == ["admin"]
    assert claims["email"] == "admin@example.com"
    assert claims["email_verified"] is True
    assert claims["name"] == "Ada Admin"
    assert claims["sid"]
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600


def test_access_token_is_an_rs256_jwt_for_the_api_audience(idp):
    tokens = idp.sign_in("devel@example.com", "devel")

    claims = idp.verify(tokens["access_token"], audience="portal-api")
    assert claims["sub"] == "auth0|demo-devel"
    assert claims["azp"] == CLIENT_ID
    assert claims["scope"] == "openid profile email offline_access"
    assert claims[ROLES] == ["devel"]
    assert claims["exp"] - claims["iat"] == 3600


def test_id_token_sid_is_the_same_for_every_login_of_one_provider_session(idp):
    first = idp.verify(idp.sign_in()["id_token"], CLIENT_ID)
    second = idp.verify(idp.sign_in()["id_token"], CLIENT_ID)

    assert first["sid"] == second["sid"]


def test_authorization_redirects_back_with_code_and_state(idp):
    response = idp.submit_login(idp.authorize(state="xyz"))

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    assert query_of(location)["state"] == "xyz"
    assert len(query_of(location)["code"]) == 48


def test_second_authorize_is_single_sign_on_without_the_form(idp):
    idp.login_code()

    response = idp.authorize()

    assert response.status_code == 302
    assert "code" in query_of(response.headers["Location"])


def test_prompt_login_shows_the_form_even_when_signed_in(idp):
    idp.login_code()

    response = idp.authorize(prompt="login")

    assert response.status_code == 200
    assert 'name="password"' in response.get_data(as_text=True)


def test_prompt_none_without_a_provider_session_answers_login_required(idp):
    response = idp.authorize(prompt="none")

    assert response.status_code == 302
    assert query_of(response.headers["Location"]) == {
        "error": "login_required",
        "state": "state-123",
    }


def test_provider_cookie_is_scoped_to_the_mount_and_http_only(idp):
    response = idp.submit_login(idp.authorize())

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("devidp_session=")
    assert "Path=/idp;" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_missing_pkce_is_refused_with_invalid_request(idp):
    response = idp.authorize(code_challenge=None, code_challenge_method=None)

    assert response.status_code == 302
    params = query_of(response.headers["Location"])
    assert params["error"] == "invalid_request"
    assert params["state"] == "state-123"
    assert "code" not in params


def test_plain_pkce_is_refused_with_invalid_request(idp):
    verifier = "v" * 50
    response = idp.authorize(code_challenge=verifier, code_challenge_method="plain")

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_pkce_without_method_is_refused_because_it_defaults_to_plain(idp):
    response = idp.authorize(code_challenge_method=None)

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_wrong_code_verifier_is_refused_with_invalid_grant(idp):
    code = idp.login_code()

    response = idp.redeem(code, verifier="w" * 64)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_refused(idp):
    code = idp.login_code()

    response = idp.token(grant_type="authorization_code", code=code, redirect_uri=CALLBACK)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_code_replay_is_refused_with_invalid_grant(idp):
    code = idp.login_code()
    assert idp.redeem(code).status_code == 200

    replay = idp.redeem(code)

    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"


def test_expired_code_is_refused(idp, monkeypatch):
    code = idp.login_code()
    monkeypatch.setattr(models, "AUTHORIZATION_CODE_TTL", -1)

    response = idp.redeem(code)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_code_redeemed_with_another_redirect_uri_is_refused(idp):
    code = idp.login_code()

    response = idp.token(
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://localhost/other",
        code_verifier=idp.verifier,
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_client_secret_basic_is_accepted(idp):
    code = idp.login_code()

    response = idp.browser.post(
        "/idp/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": idp.verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    )

    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"


def test_wrong_client_secret_is_refused_with_invalid_client(idp):
    code = idp.login_code()

    response = idp.token(
        grant_type="authorization_code",
        code=code,
        redirect_uri=CALLBACK,
        code_verifier=idp.verifier,
        client_secret="wrong",
    )

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_unknown_client_gets_a_400_page_and_no_redirect(idp):
    response = idp.authorize(client_id="stranger")

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Unknown application" in response.get_data(as_text=True)


def test_unregistered_redirect_uri_gets_a_400_page_and_no_redirect(idp):
    response = idp.authorize(redirect_uri="https://evil.example/callback")

    assert response.status_code == 400
    assert "Location" not in response.headers
    body = response.get_data(as_text=True)
    assert "Callback URL not allowed" in body
    assert "Development identity provider — not for production" in body


def test_redirect_uri_must_match_exactly(idp):
    response = idp.authorize(redirect_uri=CALLBACK + "/")

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_cancel_redirects_back_with_access_denied_and_state(idp):
    response = idp.submit_login(idp.authorize(state="s-42"), email="", password="", button="cancel")

    assert response.status_code == 302
    params = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith(CALLBACK + "?")
    assert params["error"] == "access_denied"
    assert params["error_description"] == "The user cancelled the sign-in."
    assert params["state"] == "s-42"


def test_wrong_password_shows_the_form_again_with_a_message_and_the_request(idp):
    page = idp.authorize(state="keep-me")

    response = idp.submit_login(page, "admin@example.com", "not-the-password")

    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "Wrong email or password." in body
    fields = dict(form_fields(body))
    assert fields["email"] == "admin@example.com"
    assert fields["state"] == "keep-me"
    assert fields["code_challenge"] == idp.last_params["code_challenge"]


def test_form_with_a_forged_csrf_token_is_refused(idp):
    data = dict(form_fields(idp.authorize().get_data(as_text=True)))
    data.update(csrf_token="forged", email="admin@example.com", password="admin", sign_in="1")

    response = idp.browser.post("/idp/authorize", data=data)

    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)


def test_login_page_lists_the_demo_users_and_their_passwords(idp):
    body = idp.authorize().get_data(as_text=True)

    for email, password in [("admin@example.com", "admin"), ("stable@example.com", "stable")]:
        assert f"<code>{email}</code>" in body
        assert f"<code>{password}</code>" in body


def test_id_token_header_names_the_signing_key(idp):
    tokens = idp.sign_in()

    jwks = idp.browser.get("/idp/.well-known/jwks.json").get_json()
    assert jwt.get_unverified_header(tokens["id_token"])["kid"] == jwks["keys"][0]["kid"]
    assert jwt.get_unverified_header(tokens["id_token"])["alg"] == "RS256"


def test_a_reused_nonce_is_refused_as_a_replay(idp):
    idp.login_code(nonce="same-nonce")

    response = idp.authorize(nonce="same-nonce")

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_request"
