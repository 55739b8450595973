"""The OpenAPI 3.1 documents of the portal's and the admin console's JSON API: valid, complete
(every JSON route described, nothing else), and open to signed-in admins alone."""

import pytest
import requests
from openapi_spec_validator import OpenAPIV31SpecValidator

import apps.admin.manage
from tests.support.sessions import signed_in
from tests.test_admin_console_helpers import console_url

pytestmark = pytest.mark.site

PORTAL_DOCUMENT = "/api/openapi.json"
CONSOLE_DOCUMENT = "/admin/manage/api/openapi.json"
#: The portal's routes that answer pages, redirects or Prometheus text, never JSON.
NOT_JSON = {
    ("/", "get"): "the dashboard",
    ("/_portal/handoff", "get"): "host mode's sign-in handoff (redirects)",
    ("/callback", "get"): "the sign-in callback (redirects)",
    ("/login", "get"): "sign-in (redirects)",
    ("/logout", "get"): "the sign-out page",
    ("/logout", "post"): "sign-out (redirects)",
    ("/metrics", "get"): "Prometheus text",
    ("/sessions", "get"): "the sessions page",
    ("/sessions/end-all", "post"): "a form of the sessions page (redirects)",
    ("/static/{filename}", "get"): "the portal's stylesheet and icons",
}


def routes(app):
    """(OpenAPI path, method) of every route of a Flask app."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:", "<").replace("<", "{").replace(">", "}")
        found |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def described(document):
    return {(path, method) for path, item in document["paths"].items() for method in item}


@pytest.fixture(scope="module")
def portal_document(portal, admin):
    answer = admin.get(portal.base_url + PORTAL_DOCUMENT, timeout=10)
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture(scope="module")
def console_document(portal, admin):
    answer = admin.get(portal.base_url + CONSOLE_DOCUMENT, timeout=10)
    assert answer.status_code == 200
    return answer.json()


def test_the_portals_document_is_valid_openapi_3_1(portal_document):
    assert portal_document["openapi"] == "3.1.0"
    assert list(OpenAPIV31SpecValidator(portal_document).iter_errors()) == []


def test_the_consoles_document_is_valid_openapi_3_1(console_document):
    assert console_document["openapi"] == "3.1.0"
    assert list(OpenAPIV31SpecValidator(console_document).iter_errors()) == []


def test_every_json_route_of_the_portal_is_described(portal, portal_document):
    assert described(portal_document) == routes(portal.application) - set(NOT_JSON)


def test_the_routes_left_undescribed_exist(portal):
    assert set(NOT_JSON) <= routes(portal.application)


def test_every_route_of_the_consoles_api_is_described_and_no_page(console_document):
    api = {
        route for route in routes(apps.admin.manage.create_app()) if route[0].startswith("/api/")
    }
    assert described(console_document) == api


def test_the_consoles_paths_start_at_its_mount_path(console_document):
    assert console_document["servers"] == [{"url": "/admin/manage"}]


def test_anonymous_callers_are_told_to_sign_in(portal):
    answer = requests.get(portal.base_url + PORTAL_DOCUMENT, timeout=10)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "unauthenticated",
        "message": "Sign in first.",
        "login_url": "/login",
    }


@pytest.mark.parametrize("tier", ["devel", "ea", "stable"])
def test_users_below_admin_are_refused_the_portals_document(portal, tier):
    answer = signed_in(portal, tier).get(portal.base_url + PORTAL_DOCUMENT, timeout=10)
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "forbidden",
        "message": "The API description is open to admins only.",
    }


def test_users_below_admin_are_refused_the_consoles_document(portal):
    answer = signed_in(portal, "devel").get(
        console_url(portal, "/api/openapi.json"),
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 403
    assert answer.headers["Content-Type"] == "application/json"


def test_anonymous_callers_are_refused_the_consoles_document(portal):
    answer = requests.get(
        console_url(portal, "/api/openapi.json"),
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"


def test_describing_a_route_leaves_its_answer_as_it_was(portal):
    answer = requests.get(portal.base_url + "/healthz", timeout=10)
    assert (answer.status_code, answer.headers["Content-Type"], answer.json()) == (
        200,
        "application/json",
        {"status": "ok"},
    )


def test_a_bearer_token_is_no_sign_in_for_the_portals_document_as_for_api_me(portal):
    portal.services.user_sync().one("auth0|demo-admin")
    token = portal.devidp.access_token_for("admin@example.com")
    headers = {"Authorization": f"Bearer {token}"}
    for path in (PORTAL_DOCUMENT, "/api/me"):
        answer = requests.get(portal.base_url + path, headers=headers, timeout=10)
        assert answer.status_code == 401, path


def test_the_portals_own_routes_ask_for_the_session_cookie(portal_document):
    assert portal_document["paths"]["/api/me"]["get"]["security"] == [{"session": []}]
