"""Identity headers of every common front door, sent by a client straight to the portal, never
reach a product: the table in `auth/identity_headers.py` drives the code, the identity headers
reference (made from it) and these tests, which send every name it holds through an in-process
product and through the proxy to a product's own server, on the development server and on
gunicorn."""

import json
import textwrap

import pytest
import requests

from auth.identity_headers import IDENTITY_HEADERS, IdentityHeaders, is_identity_header, wsgi_name
from portal.config import ConfigError, load_settings
from tests.support.echo_upstream import echo_upstream
from tests.support.live import private_site
from tests.support.signin import sign_in
from tests.support.tiers import on_server
from tests.support.upstreams import upstream_product
from tests.support.websockets import PatientGunicorn, prime_database

#: Every header name the table gives as an example of what it strips.
TABLE = [name for family in IDENTITY_HEADERS for name in family.examples]
#: The front doors' headers that reached products before the table held them.
OTHER_FRONT_DOORS = [
    "X-Authentik-Username",
    "X-Authentik-Groups",
    "X-Authentik-Email",
    "X-Authentik-Jwt",
    "X-Vouch-User",
    "X-Consumer-Username",
    "X-Consumer-Custom-Id",
    "X-Credential-Identifier",
    "Oidc-Claim-Email",
    "Oidc-Access-Token",
    "X-Jwt-Assertion",
    "Teleport-Jwt-Assertion",
    "Impersonate-User",
    "Impersonate-Group",
    "Shib-Identity-Provider",
    "Eppn",
    "X-Proxy-User",
    "X-Original-User",
    "X-Preferred-Username",
    "Auth-User",
    "X-Client-Cert",
    "X-Client-Dn",
    "X-Arr-Clientcert",
    "X-Iap-User",
    "X-Forwarded-Client-Cert",
    "X-Forwarded-Login",
]
#: A site's own name, added with PORTAL_IDENTITY_HEADERS.
SITE_OWN = "X-Corp-Person"
ORDINARY = [
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Original-URI",
    "X-Request-ID",
    "X-Requested-With",
    "User-Agent",
    "Accept-Language",
    "X-Inspector-Probe",
]
SENT = [*TABLE, *OTHER_FRONT_DOORS, SITE_OWN]


@pytest.mark.unit
def test_the_table_holds_every_front_door_that_reached_products():
    assert [name for name in OTHER_FRONT_DOORS if name not in TABLE] == []


@pytest.mark.unit
@pytest.mark.parametrize("header", [*TABLE, "x-forwarded-user", "OIDC_CLAIM_sub"])
def test_an_identity_header_is_on_the_list(header):
    assert is_identity_header(wsgi_name(header))


@pytest.mark.unit
@pytest.mark.parametrize("header", [*ORDINARY, SITE_OWN])
def test_an_ordinary_header_is_not(header):
    assert not is_identity_header(wsgi_name(header))


@pytest.mark.unit
def test_a_sites_own_names_and_globs_join_the_table():
    headers = IdentityHeaders(["X-Corp-*", "Employee-Id"])
    environ = {
        wsgi_name(n): "x" for n in ("X-Corp-Person", "Employee-Id", "X-Vouch-User", "Accept")
    }
    headers.strip(environ)
    assert environ == {"HTTP_ACCEPT": "x"}


@pytest.mark.unit
@pytest.mark.parametrize(
    "value", ["*", "X Corp", "X-Corp:", "X-Corp;User", "-*", "X-Corp/User", "X-Ümlaut"]
)
def test_a_setting_that_is_not_a_header_name_stops_the_portal(value):
    with pytest.raises(ConfigError, match="PORTAL_IDENTITY_HEADERS must list header names"):
        load_settings({"PORTAL_IDENTITY_HEADERS": f"X-Fine, {value}"}, read_dotenv=False)


@pytest.mark.unit
def test_the_setting_is_read_comma_separated():
    settings = load_settings(
        {"PORTAL_IDENTITY_HEADERS": " X-Corp-*, Employee-Id "}, read_dotenv=False
    )
    assert settings.identity_header_names == ("X-Corp-*", "Employee-Id")
    assert settings.identity_headers.matches("HTTP_EMPLOYEE_ID")


ECHO = """
import json

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    seen = sorted(k for k in environ if k.startswith("HTTP_") or k == "REMOTE_USER")
    return [json.dumps({"seen": seen, "remote_user": environ.get("REMOTE_USER")}).encode()]
"""


def site_apps(apps, upstream_address: str):
    """stable/echo runs in the portal; ea/echoed is a server of its own behind the proxy."""
    (apps / "stable" / "echo").mkdir(parents=True)
    (apps / "stable" / "echo" / "__init__.py").write_text(textwrap.dedent(ECHO))
    upstream_product(apps, "ea/echoed", f"http://{upstream_address}")
    return apps


@pytest.fixture(scope="module")
def upstream():
    with echo_upstream() as server:
        yield server


@pytest.fixture(scope="module", params=[on_server(name, name) for name in ("werkzeug", "gunicorn")])
def base_url(request, tmp_path_factory, upstream):
    apps = site_apps(tmp_path_factory.mktemp("apps"), upstream.address)
    if request.param == "werkzeug":
        with private_site(
            tmp_path_factory, apps_dir=apps, identity_header_names=("X-Corp-*",)
        ) as live:
            yield live.base_url
        return
    instance = tmp_path_factory.mktemp("instance")
    env = {
        "DATABASE_URL": f"sqlite:///{instance / 'portal.sqlite3'}",
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_APPS_DIR": str(apps),
        "PORTAL_IDENTITY_HEADERS": "X-Corp-*",
    }
    prime_database(env)
    server = PatientGunicorn(env, workers=1, log_path=instance / "gunicorn.log")
    yield server.base_url
    server.stop()


def spoofed() -> dict[str, str]:
    return {name: "admin@example.com" for name in SENT} | {name: "kept" for name in ORDINARY}


def test_an_in_process_product_receives_none_of_them_and_all_the_ordinary_ones(base_url):
    http = sign_in(base_url, "ea")
    answer = http.get(base_url + "/stable/echo/", headers=spoofed(), timeout=10)
    seen = set(json.loads(answer.text)["seen"])
    assert sorted({wsgi_name(name) for name in SENT} & seen) == []
    assert {wsgi_name(name) for name in ORDINARY} - seen == set()
    assert json.loads(answer.text)["remote_user"] == "auth0|demo-ea"


def test_a_proxied_product_receives_none_of_them_and_only_the_portals_identity(base_url):
    http = sign_in(base_url, "ea")
    answer = http.get(base_url + "/ea/echoed/", headers=spoofed(), timeout=10)
    headers = answer.json()["headers"]
    assert sorted({name.lower() for name in SENT} & set(headers)) == [
        "x-portal-tier",
        "x-portal-user",
    ]
    assert (headers["x-portal-user"], headers["x-portal-tier"]) == ("auth0|demo-ea", "ea")
    assert (headers["x-inspector-probe"], headers["user-agent"]) == ("kept", "kept")


def test_an_anonymous_client_cannot_pass_as_anyone_with_them(base_url):
    answer = requests.get(
        base_url + "/stable/echo/", headers=spoofed(), allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
