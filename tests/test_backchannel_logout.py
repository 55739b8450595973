"""OpenID Connect Back-Channel Logout: the issuer ends portal sessions, and forgeries fail."""

import secrets
import time

import jwt
import pytest
import requests

from tests.support.databases import database_url_for
from tests.support.processes import Gunicorn
from tests.support.signin import session_id_of, sign_in

EVENT = {"http://schemas.openid.net/event/backchannel-logout": {}}


def logout_token(portal, key=None, **overrides):
    signing = portal.idp_store.signing_key()
    now = int(time.time())
    claims = {
        "iss": portal.settings.issuer,
        "aud": portal.settings.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_hex(8),
        "sub": "auth0|nobody",
        "events": EVENT,
        **overrides,
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(
        claims,
        key or signing.as_pem(private=True),
        algorithm="RS256",
        headers={"kid": signing.kid, "typ": "logout+jwt"},
    )


def post(portal, token):
    return requests.post(
        portal.base_url + "/backchannel-logout", data={"logout_token": token}, timeout=10
    )


def new_user(portal):
    email = f"bc-{secrets.token_hex(4)}@example.org"
    subject = portal.idp_store.add_user(email, "pw-123456", ["ea"], "Back Channel")
    return email, subject


def still_signed_in(portal, http):
    portal.services.resolver.forget(session_id_of(portal, http))
    answer = http.get(portal.base_url + "/ea/forecast/", allow_redirects=False, timeout=10)
    return answer.status_code == 200


@pytest.mark.site
def test_signing_out_at_the_provider_ends_the_portal_session(portal):
    email, subject = new_user(portal)
    http = sign_in(portal.base_url, email, "pw-123456")
    devidp = portal.devidp
    assert devidp.end_provider_sessions(subject) == 1
    assert not still_signed_in(portal, http)


@pytest.mark.site
def test_a_logout_token_naming_the_user_ends_all_their_sessions(portal):
    email, subject = new_user(portal)
    first = sign_in(portal.base_url, email, "pw-123456")
    second = sign_in(portal.base_url, email, "pw-123456")
    assert post(portal, logout_token(portal, sub=subject)).status_code == 200
    assert (still_signed_in(portal, first), still_signed_in(portal, second)) == (False, False)


@pytest.mark.site
def test_a_replayed_logout_token_is_refused(portal):
    token = logout_token(portal)
    assert post(portal, token).status_code == 200
    replay = post(portal, token)
    assert (replay.status_code, replay.json()["error_description"]) == (
        400,
        "this logout token was already used",
    )


def _other_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda p: logout_token(p, aud="another-client"), "the logout token does not verify"),
        (
            lambda p: logout_token(p, iss="https://impostor.example/"),
            "the logout token does not verify",
        ),
        (lambda p: logout_token(p, key=_other_key()), "the logout token does not verify"),
        (lambda p: logout_token(p, events=None), "the logout token does not verify"),
        (lambda p: logout_token(p, events={"other": {}}), "carries no back-channel logout event"),
        (lambda p: logout_token(p, sub=None), "names neither a session (sid) nor a user (sub)"),
        (lambda p: logout_token(p, nonce="n"), "must not carry a nonce"),
        (lambda p: logout_token(p, iat=int(time.time()) - 3600, exp=None), "is too old"),
        (lambda p: "", "logout_token is missing"),
        (lambda p: "not-a-jwt", "the logout token does not verify"),
    ],
    ids=[
        "aud",
        "iss",
        "signature",
        "no-events",
        "wrong-event",
        "no-sid-or-sub",
        "nonce",
        "old",
        "missing",
        "garbage",
    ],
)
@pytest.mark.site
def test_a_bad_logout_token_is_refused_with_the_reason(portal, forge, reason):
    answer = post(portal, forge(portal))
    assert answer.status_code == 400
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json()["error"] == "invalid_request"
    assert reason in answer.json()["error_description"]


@pytest.fixture
def two_portals(tmp_path, tmp_path_factory):
    """Two gunicorn instances (different ports, one database, one instance folder)."""
    with database_url_for("sqlite", tmp_path_factory) as url:
        env = {"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance")}
        first = Gunicorn(env, workers=1, log_path=tmp_path / "first.log")
        second = Gunicorn(env, workers=1, log_path=tmp_path / "second.log")
        yield first, second
        first.stop()
        second.stop()


@pytest.mark.gunicorn
def test_a_back_channel_logout_on_one_process_ends_the_session_on_another(two_portals):
    first, second = two_portals
    http = sign_in(first.base_url, "ea")
    cookie = {"portal_session": http.cookies["portal_session"]}
    on_second = requests.get(second.base_url + "/ea/forecast/", cookies=cookie, timeout=10)
    assert on_second.status_code == 200
    ended = http.get(first.base_url + "/idp/oidc/logout?client_id=portal-dev", timeout=10)
    assert ended.status_code == 200
    deadline, status = time.monotonic() + 20, 200
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.25)
        status = requests.get(
            second.base_url + "/ea/forecast/", cookies=cookie, allow_redirects=False, timeout=10
        ).status_code
    assert status == 302
