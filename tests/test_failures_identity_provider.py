"""The identity provider goes down: people already signed in carry on, new sign-ins are told why.

The portal is configured for an external issuer (OIDC_ISSUER), here a development provider on a
socket of its own, so stopping it is a real outage: its listening socket is closed and every
connection to it is refused. Before the outage a user signs in and a script uses a bearer token
(which loads the issuer's keys into the portal's cache); then the provider stops for good and
every test looks at the portal during the outage.

The identity cache is off (`identity_cache_seconds=0`), so each request below really checks its
session or token again instead of reusing an answer from before the outage.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from devidp import DevIdp, DevIdpSettings, create_dev_idp
from tests.support.live import LiveServer, start_live_server
from tests.support.signin import sign_in

pytestmark = pytest.mark.site

CLIENT_ID = "portal-outage-tests"
CLIENT_SECRET = "portal-outage-tests-secret-0123456789abcdef"
GREETING = "/stable/hello/api/greeting"


def _starting(_environ: dict, start_response) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@dataclass
class Outage:
    portal: LiveServer
    issuer: str
    signed_in: requests.Session
    unused_token: str


def start_portal_and_provider(folder: Path) -> tuple[LiveServer, object, DevIdp, str]:
    """The provider's socket first (the portal needs its issuer URL), then the portal, then the
    provider's app (it needs the portal's callback URL)."""
    idp_server = make_server("127.0.0.1", 0, _starting, threaded=True)
    issuer = f"http://127.0.0.1:{idp_server.server_port}"
    portal = start_live_server(
        database_url=f"sqlite:///{folder / 'portal.sqlite3'}",
        instance_path=folder,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_audience="portal-api",
        identity_cache_seconds=0,
    )
    idp_server.app = create_dev_idp(
        DevIdpSettings(
            issuer=issuer,
            database_url=f"sqlite:///{folder / 'provider.sqlite3'}",
            secret_key="provider-outage-tests-0123456789abcdefghijkl",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uris=(f"{portal.base_url}/callback",),
            post_logout_redirect_uris=(f"{portal.base_url}/",),
            audience="portal-api",
        )
    )
    return portal, idp_server, idp_server.app.extensions["devidp"], issuer


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    folder = tmp_path_factory.mktemp("idp-outage")
    portal, idp_server, provider, issuer = start_portal_and_provider(folder)
    thread = threading.Thread(target=idp_server.serve_forever, daemon=True)
    thread.start()
    try:
        http = sign_in(portal.base_url, "stable")
        # A script's first call loads the issuer's keys into the portal's cache.
        warm = provider.access_token_for("stable@example.com")
        first = requests.get(
            portal.base_url + GREETING, headers={"Authorization": f"Bearer {warm}"}, timeout=10
        )
        assert first.status_code == 200, first.text
        unused = provider.access_token_for("stable@example.com")

        idp_server.shutdown()
        idp_server.server_close()
        thread.join(timeout=10)
        with pytest.raises(requests.ConnectionError):
            requests.get(issuer + "/.well-known/openid-configuration", timeout=5)

        yield Outage(portal, issuer, http, unused)
    finally:
        idp_server.shutdown()
        idp_server.server_close()
        provider.store.engine.dispose()
        portal.stop()


def test_a_signed_in_user_keeps_using_products(outage: Outage) -> None:
    answer = outage.signed_in.get(outage.portal.base_url + "/stable/hello/", timeout=10)

    assert answer.status_code == 200
    assert "Sam Stable" in answer.text


def test_a_signed_in_user_keeps_their_dashboard(outage: Outage) -> None:
    answer = outage.signed_in.get(outage.portal.base_url + "/", timeout=10)

    assert answer.status_code == 200
    assert 'href="/stable/hello/"' in answer.text


def test_a_new_sign_in_gets_a_clear_sign_in_is_unavailable_page(outage: Outage) -> None:
    answer = requests.get(outage.portal.base_url + "/login", allow_redirects=False, timeout=20)

    assert answer.status_code == 503
    assert "Location" not in answer.headers
    assert "Sign-in is unavailable" in answer.text
    assert "The identity provider cannot be reached right now." in answer.text
    assert "Traceback" not in answer.text


def test_a_bearer_token_issued_before_the_outage_is_still_accepted(outage: Outage) -> None:
    answer = requests.get(
        outage.portal.base_url + GREETING,
        headers={"Authorization": f"Bearer {outage.unused_token}"},
        timeout=10,
    )

    assert answer.status_code == 200
    assert answer.json() == {
        "message": "Hello, Sam Stable",
        "product": "stable/hello",
        "tier": "stable",
    }
