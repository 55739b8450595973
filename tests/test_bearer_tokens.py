"""Access tokens on product mounts: accepted when genuine, refused with a reason otherwise."""

import base64
import hashlib
import hmac
import json
import secrets
import time

import jwt
import pytest
import requests
from sqlalchemy import update

from db.models import User

pytestmark = pytest.mark.site

GREETING = "/stable/hello/api/greeting"


@pytest.fixture(autouse=True)
def demo_users_known(portal):
    """Bearer tokens are for people the portal knows: bring the demo users into the table."""
    for tier in ("admin", "devel", "ea", "stable"):
        portal.services.user_sync().one(f"auth0|demo-{tier}")


def signing_key(portal):
    key = portal.idp_store.signing_key()
    return key.kid, key.as_pem(private=True)


def forge(portal, kid=None, key=None, algorithm="RS256", **overrides):
    """A token signed with the provider's own key (or another), with claims changed at will."""
    own_kid, own_key = signing_key(portal)
    now = int(time.time())
    claims = {
        "iss": portal.settings.issuer,
        "aud": portal.settings.api_audience,
        "sub": "auth0|demo-devel",
        "iat": now,
        "exp": now + 300,
        portal.settings.roles_claim: ["devel"],
        **overrides,
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    headers = {"kid": kid or own_kid}
    return jwt.encode(claims, key or own_key, algorithm=algorithm, headers=headers)


def call(portal, token, path=GREETING):
    return requests.get(
        portal.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def issued(portal, email):
    return portal.devidp.access_token_for(email)


def test_a_token_from_the_provider_opens_a_product_json_route(portal):
    answer = call(portal, issued(portal, "devel@example.com"))
    assert (answer.status_code, answer.json()["tier"]) == (200, "devel")


def test_a_token_never_opens_a_product_above_its_tier(portal):
    answer = call(portal, issued(portal, "ea@example.com"), "/devel/inspector/")
    assert answer.status_code == 403


def test_the_lower_of_token_and_user_table_tier_applies(portal):
    email = f"down-{secrets.token_hex(3)}@example.org"
    subject = portal.idp_store.add_user(email, "pw-123456", ["devel"], "Down")
    portal.services.user_sync().one(subject)
    token = issued(portal, email)
    with portal.services.database.transaction() as db:
        db.execute(update(User).where(User.subject == subject).values(tier="ea"))
    assert call(portal, token, "/devel/inspector/").status_code == 403
    assert call(portal, token, "/ea/forecast/").status_code == 200


def test_access_tier_permissions_count_like_roles(portal):
    token = forge(
        portal,
        sub="auth0|demo-admin",
        **{portal.settings.roles_claim: None, "permissions": ["access:ea"]},
    )
    assert call(portal, token, "/ea/forecast/").status_code == 200
    assert call(portal, token, "/devel/inspector/").status_code == 403


def test_a_blocked_user_token_is_refused(portal):
    email = f"blocked-{secrets.token_hex(3)}@example.org"
    subject = portal.idp_store.add_user(email, "pw-123456", ["ea"], "Blocked")
    portal.services.user_sync().one(subject)
    token = issued(portal, email)
    with portal.services.database.transaction() as db:
        db.execute(update(User).where(User.subject == subject).values(blocked=True))
    answer = call(portal, token)
    assert (answer.status_code, answer.json()["error"]) == (403, "blocked")


def test_a_token_of_someone_who_never_signed_in_is_refused(portal):
    answer = call(portal, forge(portal, sub="auth0|never-seen"))
    assert answer.status_code == 401
    assert answer.json()["message"] == (
        "Access token refused: the token's user has never signed in to the portal."
    )


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(portal):
    claims = {
        "iss": portal.settings.issuer,
        "aud": portal.settings.api_audience,
        "sub": "auth0|demo-admin",
        "exp": int(time.time()) + 300,
        "iat": int(time.time()),
    }
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _tampered(portal):
    header, payload, signature = forge(portal).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "auth0|demo-admin"
    return f"{header}.{_b64(claims)}.{signature}"


def _hs256_with_public_key(portal):
    """The classic confusion attack: HMAC-sign with the issuer's public key as the secret."""
    kid, _ = signing_key(portal)
    public = portal.idp_store.signing_key().as_pem(private=False)
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": kid})
    payload = _b64(
        {
            "iss": portal.settings.issuer,
            "aud": portal.settings.api_audience,
            "sub": "auth0|demo-admin",
            "iat": int(time.time()),
            "exp": int(time.time()) + 300,
        }
    )
    mac = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


ATTACKS = {
    "expired": (lambda p: forge(p, exp=int(time.time()) - 120), "the token has expired"),
    "not-yet-valid": (lambda p: forge(p, nbf=int(time.time()) + 600), "the token is not valid yet"),
    "wrong-issuer": (
        lambda p: forge(p, iss="https://impostor.example/"),
        "the token is from another issuer",
    ),
    "wrong-audience": (lambda p: forge(p, aud="another-api"), "the token is for another audience"),
    "alg-none": (_unsigned, "tokens must be signed with RS256, not 'none'"),
    "hs256-with-public-key": (
        _hs256_with_public_key,
        "tokens must be signed with RS256, not 'HS256'",
    ),
    "unknown-kid": (
        lambda p: forge(p, kid="no-such-key"),
        "the token was signed with a key the issuer does not publish",
    ),
    "other-key-our-kid": (
        lambda p: forge(p, key=_other_private_key()),
        "the token's signature does not verify",
    ),
    "tampered-payload": (_tampered, "the token's signature does not verify"),
    "truncated": (lambda p: forge(p)[:-21], "the token is not a well-formed JWT"),
    "not-a-jwt": (lambda p: "garbage", "the token is not a well-formed JWT"),
}


def _other_private_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_forged_or_broken_token_is_refused_with_401_and_a_reason(portal, attack):
    make, reason = ATTACKS[attack]
    answer = call(portal, make(portal))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="portal", error="invalid_token"'
    assert answer.json() == {
        "error": "invalid_token",
        "message": f"Access token refused: {reason}.",
    }
