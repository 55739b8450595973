import pytest
from devidp_support import AFTER_LOGOUT, CLIENT_ID

pytestmark = pytest.mark.unit


def test_logout_with_id_token_hint_redirects_to_a_registered_uri_with_state(idp):
    id_token = idp.sign_in()["id_token"]

    response = idp.browser.get(
        "/idp/oidc/logout",
        query_string={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": AFTER_LOGOUT,
            "state": "bye",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == AFTER_LOGOUT + "?state=bye"


def test_logout_with_client_id_redirects_to_a_registered_uri(idp):
    idp.sign_in()

    response = idp.browser.get(
        "/idp/oidc/logout",
        query_string={
            "client_id": CLIENT_ID,
            "post_logout_redirect_uri": AFTER_LOGOUT,
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == AFTER_LOGOUT


def test_logout_never_redirects_to_an_unregistered_uri(idp):
    id_token = idp.sign_in()["id_token"]

    response = idp.browser.get(
        "/idp/oidc/logout",
        query_string={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": "https://evil.example/",
            "state": "bye",
        },
    )

    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "You are signed out" in response.get_data(as_text=True)


def test_logout_without_redirect_uri_shows_the_signed_out_page(idp):
    idp.sign_in()

    response = idp.browser.get("/idp/oidc/logout")

    assert response.status_code == 200
    assert "You are signed out" in response.get_data(as_text=True)


def test_logout_ends_single_sign_on_and_clears_the_cookie(idp):
    idp.sign_in()

    response = idp.browser.get("/idp/oidc/logout")

    assert "devidp_session=;" in response.headers["Set-Cookie"]
    assert "Path=/idp" in response.headers["Set-Cookie"]
    again = idp.authorize()
    assert again.status_code == 200
    assert 'name="password"' in again.get_data(as_text=True)


def test_logout_with_a_garbage_hint_still_signs_out_but_does_not_redirect(idp):
    idp.sign_in()

    response = idp.browser.get(
        "/idp/oidc/logout",
        query_string={
            "id_token_hint": "not.a.jwt",
            "post_logout_redirect_uri": AFTER_LOGOUT,
        },
    )

    assert response.status_code == 200
    assert "Location" not in response.headers
    assert idp.authorize().status_code == 200
