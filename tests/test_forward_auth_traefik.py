"""deploy/traefik/, checked for shape: Traefik is not installed here, so its configuration is
read, not run. What the portal relies on is pinned: the check's address, the identity headers
copied from its answer, the headers of the client's request that reach the check, and that
/auth/check itself is not routed.
"""

from __future__ import annotations

import pytest
import yaml

from auth.identity_headers import is_identity_header, wsgi_name
from auth.identity_token import IdentityTokens
from portal.config import PROJECT_ROOT
from portal.forward_auth import FORWARD_AUTH_PATH
from tests.test_identity_token import ADA, DASH, KEY

pytestmark = pytest.mark.unit

TRAEFIK = PROJECT_ROOT / "deploy" / "traefik"


@pytest.fixture(scope="module")
def dynamic() -> dict:
    return yaml.safe_load((TRAEFIK / "forward-auth.yml").read_text())


@pytest.fixture(scope="module")
def forward_auth(dynamic) -> dict:
    return dynamic["http"]["middlewares"]["portal-auth"]["forwardAuth"]


def portal_identity_headers() -> list[str]:
    """The names of the headers the portal answers an allowed check with."""
    tokens = IdentityTokens("http://portal.test", lambda: KEY)
    return [name for name, _ in tokens.identity_headers(ADA, DASH)]


def test_the_static_configuration_reads_the_dynamic_file():
    static = yaml.safe_load((TRAEFIK / "traefik.yml").read_text())
    assert static["providers"]["file"]["filename"].endswith("/forward-auth.yml")
    assert static["entryPoints"]["web"]["address"] == ":80"


def test_traefik_asks_the_portals_forward_auth_route(forward_auth):
    assert forward_auth["address"] == f"http://portal:8000{FORWARD_AUTH_PATH}"


def test_the_headers_copied_to_the_product_are_the_portals_identity_headers(forward_auth):
    assert forward_auth["authResponseHeaders"] == portal_identity_headers()


def test_every_copied_header_is_one_the_gate_strips_from_clients(forward_auth):
    assert all(is_identity_header(wsgi_name(h)) for h in forward_auth["authResponseHeaders"])


def test_every_header_the_client_sent_in_the_portals_family_is_replaced(forward_auth):
    assert forward_auth["authResponseHeadersRegex"] == "^X-Portal-"


def test_traefik_names_the_request_itself_not_from_the_clients_headers(forward_auth):
    assert forward_auth["trustForwardHeader"] is False
    passed = [name.lower() for name in forward_auth["authRequestHeaders"]]
    assert passed == ["accept", "authorization", "cookie", "origin", "sec-websocket-key"]


def test_the_portals_relative_sign_in_address_reaches_the_browser_as_it_is(forward_auth):
    assert forward_auth["preserveLocationHeader"] is True


def test_the_product_is_asked_about_first_and_then_loses_the_portals_credentials(dynamic):
    router = dynamic["http"]["routers"]["dash"]
    assert router["middlewares"] == ["portal-auth", "dash-request"]
    removed = dynamic["http"]["middlewares"]["dash-request"]["headers"]["customRequestHeaders"]
    assert (removed["Cookie"], removed["Authorization"]) == ("", "")


def test_the_check_is_not_routed_from_outside(dynamic):
    routers = dynamic["http"]["routers"]
    assert routers["portal"]["rule"].endswith(f"&& !Path(`{FORWARD_AUTH_PATH}`)")
    assert FORWARD_AUTH_PATH not in routers["dash"]["rule"]
