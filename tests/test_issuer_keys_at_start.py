"""The issuer does not answer while the portal starts: bearer tokens wait, they are not refused.

The portal is configured for an external issuer (a development provider on a socket of its own)
that answers 503 until the test puts the real provider in place. No key is known meanwhile, so
no token can be checked either way: 503 with Retry-After, not 401. The key refresher retries in
the background, and once the issuer answers the same token is accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.signin import sign_in
from tests.test_failures_identity_provider import GREETING, start_portal_and_provider

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    folder = tmp_path_factory.mktemp("keys-at-start")
    portal, idp_server, provider, _issuer = start_portal_and_provider(folder)
    starting, idp_server.app = idp_server.app, lambda environ, start: _down(start)
    thread = threading.Thread(target=idp_server.serve_forever, daemon=True)
    thread.start()
    try:
        yield portal, idp_server, starting, provider
    finally:
        idp_server.shutdown()
        idp_server.server_close()
        provider.store.engine.dispose()
        portal.stop()


def _down(start_response) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"down"]


def bearer(portal, token: str) -> requests.Response:
    return requests.get(
        portal.base_url + GREETING, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_bearer_requests_get_a_503_while_no_issuer_key_is_known_then_200(started) -> None:
    portal, idp_server, provider_app, provider = started
    token = provider.access_token_for("stable@example.com")

    waiting = bearer(portal, token)
    assert waiting.status_code == 503
    assert int(waiting.headers["Retry-After"]) > 0
    assert waiting.json() == {
        "error": "unavailable",
        "message": "The portal cannot check access tokens until the identity provider answers. "
        "Please try again in a few seconds.",
    }

    idp_server.app = provider_app
    sign_in(portal.base_url, "stable")  # the token's user becomes known to the portal
    deadline = time.monotonic() + 20
    answer = bearer(portal, token)
    while answer.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        answer = bearer(portal, token)
    assert answer.status_code == 200, answer.text
