"""schemathesis against a running portal, as an admin: every described route of the portal and
the admin console, with generated valid and invalid requests, never answers 5xx and every answer
matches the document (status, content type, body schema)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.live import WEBHOOK_SECRET, private_site
from tests.test_admin_console_helpers import admin_session, api_token, console_url

pytestmark = pytest.mark.site

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Modest, for CI's time: each operation gets this many generated requests per mode.
EXAMPLES = 12


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with private_site(tmp_path_factory) as live:
        yield live


@pytest.fixture(scope="module")
def admin(site):
    session = admin_session(site)
    session.headers.update({"Accept": "application/json", "X-CSRFToken": api_token(site, session)})
    return session


def load(url, admin):
    schema = schemathesis.openapi.from_url(url, cookies=admin.cookies.get_dict(), timeout=10)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return schema


@pytest.fixture(scope="module")
def portal_schema(site, admin):
    return load(site.base_url + "/api/openapi.json", admin)


@pytest.fixture(scope="module")
def console_schema(site, admin):
    return load(console_url(site, "/api/openapi.json"), admin)


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def as_the_admin(case):
    """schemathesis fills the document's security schemes with made-up credentials; the run
    is the admin's, so they go and the admin's own session cookie (in the session) is sent,
    and the webhook gets its shared secret, so its bodies are read."""
    case.cookies = {k: v for k, v in (case.cookies or {}).items() if k != "portal_session"}
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if case.operation.path == "/api/hooks/auth0":
        case.headers["Authorization"] = f"Bearer {WEBHOOK_SECRET}"


def failures_of(schema, admin):
    """Each operation's generated requests, sent as the admin; `METHOD path: failure` of each
    operation that failed a check (hypothesis shrinks to the smallest failing request)."""
    failed = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @FUZZ
        def answers_as_described(case):
            as_the_admin(case)
            case.call_and_validate(session=admin, checks=CHECKS, timeout=30)

        try:
            answers_as_described()
        except Exception as failure:
            failed.append(f"{operation.label}: {failure}")
    return failed


def test_the_portals_api_answers_as_described(portal_schema, admin):
    assert failures_of(portal_schema, admin) == []


def test_the_consoles_api_answers_as_described(console_schema, admin):
    assert failures_of(console_schema, admin) == []
