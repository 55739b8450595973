"""Identity headers of every common front door, sent by a client straight to the portal, never
reach a product: one table, checked against the pattern list and through a real Gate."""

import json
import textwrap

import pytest
import requests

from auth.identity_headers import is_identity_header
from tests.support.live import private_site
from tests.support.signin import sign_in

IDENTITY = [
    "Remote-User",
    "Remote-Email",
    "Remote-Groups",
    "Remote-Name",
    "X-Remote-User",
    "X-Remote-Groups",
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Preferred-Username",
    "X-Forwarded-Access-Token",
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
    "X-Auth-Request-Groups",
    "X-Auth-Request-Access-Token",
    "X-Webauth-User",
    "X-Portal-User",
    "X-Portal-Tier",
    "X-User",
    "X-Email",
    "X-Tier",
    "X-Authenticated-User",
    "X-MS-Client-Principal-Name",
    "X-Goog-Authenticated-User-Email",
    "X-Amzn-Oidc-Identity",
    "Cf-Access-Authenticated-User-Email",
    "X-Pomerium-Claim-Email",
    "Tailscale-User-Login",
    "x-forwarded-user",
]
ORDINARY = [
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Request-ID",
    "X-Requested-With",
    "User-Agent",
    "Accept-Language",
    "X-Inspector-Probe",
]


def wsgi_name(header):
    return "HTTP_" + header.upper().replace("-", "_")


@pytest.mark.parametrize("header", IDENTITY)
def test_an_identity_header_is_on_the_list(header):
    assert is_identity_header(wsgi_name(header))


@pytest.mark.parametrize("header", ORDINARY)
def test_an_ordinary_header_is_not(header):
    assert not is_identity_header(wsgi_name(header))


ECHO = """
import json

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    seen = sorted(k for k in environ if k.startswith("HTTP_") or k == "REMOTE_USER")
    return [json.dumps({"seen": seen, "remote_user": environ.get("REMOTE_USER")}).encode()]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    (apps / "stable" / "echo").mkdir(parents=True)
    (apps / "stable" / "echo" / "__init__.py").write_text(textwrap.dedent(ECHO))
    with private_site(tmp_path_factory, apps_dir=apps) as live:
        yield live


def test_a_product_receives_none_of_the_identity_headers_and_all_the_ordinary_ones(site):
    http = sign_in(site.base_url, "stable")
    headers = {name: "admin@example.com" for name in IDENTITY[:-1]}
    headers |= {name: "kept" for name in ORDINARY}
    answer = json.loads(http.get(site.base_url + "/stable/echo/", headers=headers).text)
    seen = set(answer["seen"])
    assert {wsgi_name(name) for name in IDENTITY} & seen == set()
    assert {wsgi_name(name) for name in ORDINARY} <= seen
    assert answer["remote_user"] == "auth0|demo-stable"


def test_an_anonymous_client_cannot_pass_as_anyone_with_them(site):
    headers = {name: "admin@example.com" for name in IDENTITY[:-1]}
    answer = requests.get(site.base_url + "/stable/echo/", headers=headers, allow_redirects=False)
    assert answer.status_code == 302
