"""The provider over real HTTP, driven by the same client libraries the portal uses."""

import threading

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from devidp_support import CLIENT_ID, CLIENT_SECRET, ROLES, form_fields, make_settings
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from devidp import create_dev_idp

pytestmark = pytest.mark.site


@pytest.fixture
def live_idp(app, db_path):
    """A second provider on the seeded file `app` prepared (no slow key generation), on a port."""
    server = make_server("127.0.0.1", 0, NotFound(), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    idp = create_dev_idp(
        make_settings(
            db_path,
            issuer=f"{base}/idp",
            redirect_uris=(f"{base}/callback",),
        )
    )
    server.app = DispatcherMiddleware(NotFound(), {"/idp": idp})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    thread.join(timeout=5)


def test_authlib_client_signs_in_and_reads_userinfo_over_http(live_idp):
    base = live_idp
    meta = requests.get(f"{base}/idp/.well-known/openid-configuration", timeout=5).json()
    client = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="openid profile email",
        redirect_uri=f"{base}/callback",
        code_challenge_method="S256",
    )
    verifier = generate_token(48)
    url, _state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="live-nonce"
    )
    browser = requests.Session()
    page = browser.get(url, timeout=5)
    data = dict(form_fields(page.text), email="devel@example.com", password="devel", sign_in="1")
    redirect = browser.post(f"{base}/idp/authorize", data=data, allow_redirects=False, timeout=5)

    token = client.fetch_token(
        meta["token_endpoint"],
        code_verifier=verifier,
        authorization_response=redirect.headers["Location"],
    )

    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token["id_token"])
    claims = jwt.decode(
        token["id_token"],
        signing_key.key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=meta["issuer"],
    )
    assert claims["nonce"] == "live-nonce"
    assert claims[ROLES] == ["devel"]
    userinfo = client.get(meta["userinfo_endpoint"], timeout=5).json()
    assert userinfo["sub"] == "auth0|demo-devel"
