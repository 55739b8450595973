"""Bad input gets a readable answer, never a 500."""

import pytest
from devidp_support import CALLBACK, CLIENT_ID

pytestmark = pytest.mark.unit

GARBAGE = [
    ("GET", "/idp/oauth/token", {}, {}),
    ("POST", "/idp/oauth/token", {}, {}),
    ("POST", "/idp/oauth/token", {"grant_type": "password"}, {}),
    ("POST", "/idp/oauth/token", {"grant_type": "authorization_code", "code": "x"}, {}),
    (
        "POST",
        "/idp/oauth/token",
        {"grant_type": "authorization_code"},
        {"Authorization": "Basic !!!not-base64"},
    ),
    (
        "POST",
        "/idp/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": '"\\'},
        {"Authorization": "Basic cG9ydGFsOnBvcnRhbC1zZWNyZXQ="},
    ),
    (
        "POST",
        "/idp/oauth/token",
        {"grant_type": "authorization_code", "code": "x"},
        {"Authorization": "Basic cG9ydGFsOnBvcnRhbC1zZWNyZXQ="},
    ),
    ("GET", "/idp/authorize", {}, {}),
    ("GET", "/idp/authorize", {"client_id": "portal", "redirect_uri": CALLBACK}, {}),
    (
        "GET",
        "/idp/authorize",
        {"client_id": "portal", "redirect_uri": CALLBACK, "response_type": "token"},
        {},
    ),
    (
        "GET",
        "/idp/authorize",
        {"client_id": "portal", "redirect_uri": 'http://evil/"\\', "response_type": "code"},
        {},
    ),
    (
        "POST",
        "/idp/authorize",
        {"client_id": "portal", "redirect_uri": CALLBACK, "csrf_token": "forged"},
        {},
    ),
    ("GET", "/idp/userinfo", {}, {"Authorization": "Bearer garbage"}),
    ("GET", "/idp/userinfo", {}, {"Authorization": "Basic x"}),
    ("DELETE", "/idp/userinfo", {}, {}),
    ("GET", "/idp/oidc/logout", {"id_token_hint": "a.b.c", "post_logout_redirect_uri": "x"}, {}),
    ("GET", "/idp/oidc/logout", {"id_token_hint": '"\\', "client_id": "nope"}, {}),
    ("POST", "/idp/.well-known/jwks.json", {}, {}),
    ("GET", "/idp/no-such-page", {}, {}),
]


@pytest.mark.parametrize(("method", "path", "params", "headers"), GARBAGE)
def test_bad_request_gets_a_readable_client_error(idp, method, path, params, headers):
    if method == "GET":
        response = idp.browser.get(path, query_string=params, headers=headers)
    else:
        response = idp.browser.open(path, method=method, data=params, headers=headers)

    assert 200 <= response.status_code < 500, response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    if response.status_code >= 400 and path in ("/idp/oauth/token", "/idp/userinfo"):
        assert response.is_json
        assert response.get_json()["error"]


def test_plain_http_on_a_non_loopback_host_is_explained_not_crashed(app, monkeypatch):
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    client = app.test_client()

    response = client.get(
        "/authorize",
        base_url="http://portal.internal/",
        query_string={
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "response_type": "code",
        },
    )

    assert response.status_code == 400
    assert "AUTHLIB_INSECURE_TRANSPORT=1" in response.get_data(as_text=True)
    assert "Location" not in response.headers


def test_plain_http_token_request_on_a_non_loopback_host_gets_oauth_json(app, monkeypatch):
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    client = app.test_client()

    response = client.post(
        "/oauth/token",
        base_url="http://portal.internal/",
        data={"grant_type": "authorization_code"},
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "insecure_transport"
