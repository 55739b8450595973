"""The ID token checks the callback asks authlib for: issuer, audience, expiry, nonce, signature."""

import time

import pytest
from authlib.integrations.flask_client import OAuth
from flask import Flask
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from auth.oidc import id_token_claims

pytestmark = pytest.mark.unit

ISSUER = "https://issuer.example/"
CLIENT = "portal"
NONCE = "n-0S6_WzA2Mj"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})


@pytest.fixture
def client():
    app = Flask(__name__)
    oauth = OAuth(app)
    oauth.register(
        "idp",
        client_id=CLIENT,
        client_secret="secret",
        server_metadata_url=ISSUER + ".well-known/openid-configuration",
    )
    client = oauth.idp
    client.server_metadata.update(
        issuer=ISSUER,
        jwks=KeySet([KEY]).as_dict(private=False),
        id_token_signing_alg_values_supported=["RS256"],
        _loaded_at=time.time(),
    )
    return client


def id_token(key=KEY, **overrides):
    """A signed ID token; an override of None leaves that claim out."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "auth0|1",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        **overrides,
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def parse(client, token, nonce=NONCE):
    options = id_token_claims(client.server_metadata, CLIENT)
    return client.parse_id_token({"id_token": token}, nonce, claims_options=options, leeway=0)


def test_a_token_for_this_client_from_this_issuer_is_accepted(client):
    assert parse(client, id_token())["sub"] == "auth0|1"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-client"},
        {"aud": ["another-client"], "azp": CLIENT},
        {"iss": "https://impostor.example/"},
        {"exp": int(time.time()) - 10},
        {"sub": None},
    ],
    ids=["wrong-aud", "aud-list-without-us", "wrong-iss", "expired", "no-sub"],
)
def test_a_token_with_a_wrong_claim_is_refused(client, claims):
    token = id_token(**claims)
    with pytest.raises(JoseError):
        parse(client, token)


def test_a_replayed_token_with_another_nonce_is_refused(client):
    with pytest.raises(JoseError):
        parse(client, id_token(), nonce="a-different-nonce")


def test_a_token_signed_by_another_key_with_our_kid_is_refused(client):
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(JoseError):
        parse(client, id_token(key=impostor))
