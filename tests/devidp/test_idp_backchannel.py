"""Back-Channel Logout: the provider POSTs a signed logout token to a real local HTTP endpoint."""

import threading
import time

import jwt
import pytest
from devidp_support import AFTER_LOGOUT, CLIENT_ID, ISSUER, Idp, make_settings, mount
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from conftest import copy_seeded
from devidp import create_dev_idp

pytestmark = pytest.mark.site

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_CLAIMS = {"iss", "aud", "iat", "exp", "jti", "sub", "sid", "events"}


class Receiver:
    """The portal's back-channel endpoint, as a tiny server that records what it is sent."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.delay = 0.0
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/backchannel-logout"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @Request.application
    def app(self, request: Request) -> Response:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "content_type": request.mimetype,
                "form": request.form.to_dict(flat=False),
            }
        )
        time.sleep(self.delay)
        return Response("", self.status, headers={"Cache-Control": "no-store"})


@pytest.fixture
def receiver():
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.thread.join(timeout=5)


@pytest.fixture
def bc(db_path, seeded_db, receiver) -> Idp:
    copy_seeded(seeded_db, db_path)
    app = create_dev_idp(make_settings(db_path, backchannel_logout_uri=receiver.url))
    return Idp(app, mount(app))


def ext(idp: Idp):
    return idp.app.extensions["devidp"]


def logout(idp: Idp, id_token: str):
    return idp.browser.get(
        "/idp/oidc/logout",
        query_string={"id_token_hint": id_token, "post_logout_redirect_uri": AFTER_LOGOUT},
    )


def verified(idp: Idp, token: str) -> dict:
    """What a portal does: the key named by ``kid`` from the JWKS, RS256 only, iss and aud."""
    return idp.verify(token, CLIENT_ID)


def test_discovery_advertises_back_channel_logout_with_sessions(bc):
    doc = bc.browser.get("/idp/.well-known/openid-configuration").get_json()

    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True


def test_logout_posts_a_signed_logout_token_before_redirecting(bc, receiver):
    id_token = bc.sign_in()["id_token"]
    session_claims = verified(bc, id_token)

    response = logout(bc, id_token)

    assert response.status_code == 302
    assert response.headers["Location"] == AFTER_LOGOUT
    [sent] = receiver.requests  # already there when the browser got its answer
    assert sent["method"] == "POST"
    assert sent["path"] == "/backchannel-logout"
    assert sent["content_type"] == "application/x-www-form-urlencoded"
    assert list(sent["form"]) == ["logout_token"]
    token = sent["form"]["logout_token"][0]
    header = jwt.get_unverified_header(token)
    claims = verified(bc, token)
    assert header["alg"] == "RS256"
    assert header["typ"] == "logout+jwt"
    assert header["kid"] == ext(bc).store.signing_key().kid
    assert set(claims) == LOGOUT_CLAIMS
    assert "nonce" not in claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == CLIENT_ID
    assert claims["sub"] == "auth0|demo-admin"
    assert claims["sid"] == session_claims["sid"]
    assert claims["events"] == {EVENT: {}}
    assert claims["exp"] - claims["iat"] == 120
    assert abs(claims["iat"] - time.time()) < 5
    [delivery] = ext(bc).backchannel_deliveries
    assert (delivery.uri, delivery.status, delivery.error) == (receiver.url, 200, "")
    assert delivery.sid == claims["sid"]


def test_each_logout_token_has_its_own_jti(bc, receiver):
    for _ in range(2):
        logout(bc, bc.sign_in()["id_token"])

    tokens = [r["form"]["logout_token"][0] for r in receiver.requests]
    claims = [verified(bc, t) for t in tokens]
    assert len({c["jti"] for c in claims}) == 2
    assert len({c["sid"] for c in claims}) == 2


def test_logout_without_a_provider_session_sends_nothing(bc, receiver):
    response = bc.browser.get("/idp/oidc/logout")

    assert response.status_code == 200
    assert receiver.requests == []
    assert len(ext(bc).backchannel_deliveries) == 0


def test_logout_with_a_garbage_hint_still_notifies_the_portal(bc, receiver):
    bc.sign_in()

    response = bc.browser.get("/idp/oidc/logout", query_string={"id_token_hint": "not.a.jwt"})

    assert response.status_code == 200
    assert len(receiver.requests) == 1


def test_signing_in_again_replaces_the_session_without_a_logout_token(bc, receiver):
    bc.sign_in()
    bc.sign_in("devel@example.com", "devel", prompt="login")

    assert receiver.requests == []


@pytest.mark.parametrize("status", [400, 500, 503])
def test_a_portal_answering_an_error_does_not_break_the_browser_logout(bc, receiver, status):
    receiver.status = status
    id_token = bc.sign_in()["id_token"]

    response = logout(bc, id_token)

    assert response.status_code == 302
    assert response.headers["Location"] == AFTER_LOGOUT
    [delivery] = ext(bc).backchannel_deliveries
    assert delivery.status == status
    assert not delivery.ok
    assert bc.authorize().status_code == 200  # signed out at the provider all the same


def test_an_unreachable_portal_does_not_break_the_browser_logout(bc, receiver):
    receiver.server.shutdown()
    receiver.server.server_close()
    id_token = bc.sign_in()["id_token"]

    response = logout(bc, id_token)

    assert response.status_code == 302
    [delivery] = ext(bc).backchannel_deliveries
    assert delivery.status is None
    assert delivery.error


def test_a_stalled_portal_delays_the_logout_by_the_timeout_only(bc, receiver):
    receiver.delay = 3.0
    ext(bc).backchannel.timeout = 0.5
    id_token = bc.sign_in()["id_token"]

    started = time.monotonic()
    response = logout(bc, id_token)

    assert time.monotonic() - started < 2.5
    assert response.status_code == 302
    [delivery] = ext(bc).backchannel_deliveries
    assert delivery.status is None
    assert "Timeout" in delivery.error


def test_end_provider_sessions_sends_one_logout_token_per_session(bc, receiver):
    other_browser = Idp(bc.app, mount(bc.app))
    first = verified(bc, bc.sign_in()["id_token"])["sid"]
    second = verified(other_browser, other_browser.sign_in()["id_token"])["sid"]
    bystander = Idp(bc.app, mount(bc.app))
    bystander.sign_in("devel@example.com", "devel")

    ended = ext(bc).end_provider_sessions("auth0|demo-admin")

    assert ended == 2
    sent = [verified(bc, r["form"]["logout_token"][0]) for r in receiver.requests]
    assert sorted(c["sid"] for c in sent) == sorted([first, second])
    assert {c["sub"] for c in sent} == {"auth0|demo-admin"}
    assert bc.authorize().status_code == 200  # both browsers must sign in again
    assert other_browser.authorize().status_code == 200
    assert bystander.authorize().status_code == 302  # another user's session is untouched
    assert ext(bc).end_provider_sessions("auth0|demo-admin") == 0
    assert len(receiver.requests) == 2


def test_without_a_back_channel_uri_logout_sends_nothing(idp):
    id_token = idp.sign_in()["id_token"]

    response = logout(idp, id_token)

    assert response.status_code == 302
    assert len(idp.app.extensions["devidp"].backchannel_deliveries) == 0
    assert idp.app.extensions["devidp"].end_provider_sessions("auth0|demo-admin") == 0


def test_a_custom_transport_receives_the_form(bc):
    seen = []
    ext(bc).backchannel.transport = lambda uri, form, timeout: seen.append(form) or 204
    bc.sign_in()

    ext(bc).end_provider_sessions("auth0|demo-admin")

    [form] = seen
    assert verified(bc, form["logout_token"])["sub"] == "auth0|demo-admin"
    assert ext(bc).backchannel_deliveries[0].ok
