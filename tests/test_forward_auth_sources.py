"""`/auth/check` answers the proxies the operator trusts, never a browser: a check from outside
PORTAL_FORWARD_AUTH_SOURCES, or a browser's own request to it (fetch metadata, on a host the
site serves to browsers), gets 403 with the reason; a proxy passing a browser's request on (its
own internal name for the portal, the browser's headers along) is answered as before."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from portal.config import ConfigError, load_settings
from tests.support.live import private_site
from tests.support.sessions import signed_in
from tests.test_forward_auth import EA, ask, cookie_for
from tests.test_observability import proxied_portal

pytestmark = pytest.mark.site

#: What Chromium sends with a page script's fetch() to its own origin; scripts cannot change it.
FETCH_METADATA = {
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Dest": "empty",
}
BROWSER_REFUSAL = {
    "error": "forward_auth_browser",
    "message": (
        "/auth/check is a question for the proxy in front of a product, not for a browser; a "
        "proxy asks it by an internal name for the portal (nginx: proxy_set_header Host "
        "$proxy_host)."
    ),
}


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory):
    """A site whose proxies are on 10.0.0.0/8 only: this test, on loopback, is not one."""
    with private_site(tmp_path_factory, forward_auth_sources=("10.0.0.0/8",)) as live:
        yield live


def test_a_check_from_outside_the_sources_is_refused_with_the_reason(elsewhere):
    answer = ask(elsewhere, elsewhere.product_url(EA), cookie_for(elsewhere, "ea"))
    assert (answer.status_code, answer.json()) == (
        403,
        {
            "error": "forward_auth_source",
            "message": "/auth/check answers only the proxies in PORTAL_FORWARD_AUTH_SOURCES; "
            "127.0.0.1 is not one of them.",
        },
    )
    assert "X-Portal-Identity" not in answer.headers


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "status"),
    [
        ("127.0.0.1", "203.0.113.9", 400),  # nginx on loopback, naming its client: answered
        ("127.8.9.10", "", 400),
        ("::1", "", 400),
        ("10.1.2.3", "127.0.0.1", 403),  # a client naming loopback in X-Forwarded-For
        ("10.1.2.3", "", 403),
        ("192.168.1.5", "::1", 403),
        ("not-an-address", "", 403),
    ],
)
def test_the_source_is_the_connections_address_not_a_forwarded_one(
    tmp_path, peer, forwarded_for, status
):
    """400: past the source check, refused for naming no request (this check names none)."""
    client = proxied_portal(tmp_path, trusted_proxies=1)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    answer = client.get(
        "/auth/check",
        base_url="https://portal.test",
        environ_base={"REMOTE_ADDR": peer},
        headers=headers,
    )
    assert answer.status_code == status


@pytest.mark.parametrize("value", ["loopback", "10.0.0.0/33", "127.0.0.1,::1"])
def test_a_source_that_is_not_a_network_stops_the_portal(value):
    with pytest.raises(ConfigError, match="PORTAL_FORWARD_AUTH_SOURCES must list networks"):
        load_settings({"PORTAL_FORWARD_AUTH_SOURCES": value}, read_dotenv=False)


def test_the_sources_default_to_loopback():
    assert load_settings({}, read_dotenv=False).forward_auth_sources == ("127.0.0.0/8", "::1/128")


def public_hosts(site) -> list[str]:
    """The hosts a browser reaches the site by: the portal's, and in host mode a product's."""
    hosts = [urlsplit(site.base_url).netloc]
    if site.host_mode:
        hosts.append(urlsplit(site.product_url(EA)).netloc)
    return hosts


@pytest.mark.parametrize("metadata", [FETCH_METADATA, {"Sec-Fetch-Mode": "no-cors"}])
def test_a_browsers_own_request_on_a_public_host_is_refused(site, metadata):
    cookie = cookie_for(site, "ea")
    for host in public_hosts(site):
        answer = ask(site, site.product_url(EA), cookie, Host=host, **metadata)
        assert (answer.status_code, answer.json()) == (403, BROWSER_REFUSAL), host
        assert "X-Portal-Identity" not in answer.headers


@pytest.mark.parametrize("shape", ["nginx", "traefik"])
def test_a_proxy_passing_a_browsers_request_on_by_its_own_name_is_answered(site, shape):
    answer = ask(
        site,
        site.product_url(EA),
        cookie_for(site, "ea"),
        shape=shape,
        Host="portal-1:8000",
        **FETCH_METADATA,
    )
    assert (answer.status_code, answer.headers["X-Portal-Tier"]) == (200, "ea")


def test_a_check_without_fetch_metadata_on_the_portals_host_is_still_answered(site):
    """Proxies that keep the site's Host and pass no Sec-Fetch-* (and the tests) keep working."""
    answer = ask(site, site.product_url(EA), cookie_for(site, "ea"))
    assert answer.status_code == 200


def test_an_anonymous_browser_request_gets_the_same_refusal(site):
    answer = requests.get(
        site.base_url + "/auth/check",
        headers={"X-Forwarded-Uri": f"/{EA}/", **FETCH_METADATA},
        timeout=10,
    )
    assert (answer.status_code, answer.json()["error"]) == (403, "forward_auth_browser")


def test_the_signed_in_user_still_opens_the_product_itself(site):
    http = signed_in(site, "ea")
    assert http.get(site.product_url(EA), headers=FETCH_METADATA, timeout=10).status_code == 200
