"""Request ids, security headers, readiness and metrics, as an operator sees them."""

import io
import json
import logging

import pytest
import requests
from werkzeug.test import Client

from auth.log_context import LOG_CONTEXT
from auth.users import SignIn, record_sign_in
from db.intents import open_intent
from portal.application import create_app
from portal.config import Settings
from portal.logs import configure_logging
from tests.support.sessions import signed_in

pytestmark = pytest.mark.site


def test_every_response_carries_a_request_id(portal):
    answer = requests.get(portal.base_url + "/healthz", timeout=10)
    assert len(answer.headers["X-Request-ID"]) == 32


def test_a_proxy_request_id_is_kept_and_passed_to_the_product(portal):
    http = signed_in(portal, "devel")
    answer = http.get(
        portal.base_url + "/devel/inspector/", headers={"X-Request-ID": "lb-1234abcd"}, timeout=10
    )
    assert answer.headers["X-Request-ID"] == "lb-1234abcd"
    assert "lb-1234abcd" in answer.text


def test_a_malformed_request_id_is_replaced(portal):
    answer = requests.get(
        portal.base_url + "/healthz", headers={"X-Request-ID": "<script>"}, timeout=10
    )
    assert answer.headers["X-Request-ID"] != "<script>"


def test_the_portals_own_pages_get_a_strict_content_security_policy(portal):
    answer = requests.get(portal.base_url + "/", timeout=10)
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_products_get_the_headers_too_but_keep_their_own_policy(portal):
    http = signed_in(portal, "stable")
    answer = http.get(portal.base_url + "/stable/hello/", timeout=10)
    assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in answer.headers


def test_readyz_reports_each_part(portal):
    answer = requests.get(portal.base_url + "/readyz", timeout=10)
    body = answer.json()
    assert (answer.status_code, body["status"]) == (200, "ready")
    assert body["checks"] == {"database": "ok", "identity_provider": "ok"}
    assert body["products"]["loaded"] >= 7
    assert isinstance(body["pending_changes"], int)


def test_readyz_counts_the_changes_pending_reconciliation_without_becoming_unready(https_site):
    """The https site's identity provider is unreachable, so the check fails; the count stays."""
    application = https_site.application
    services = application.extensions["portal"]
    user = record_sign_in(services.database, SignIn("auth0|pend", "p@example.org", "P", []))
    open_intent(
        services.database,
        user,
        change="tier",
        from_value="stable",
        to_value="ea",
        actor="cli:ops",
        source="cli",
    )
    answer = https_site.get("/readyz", base_url="https://portal.test")
    assert (answer.json["pending_changes"], sorted(answer.json["checks"])) == (
        1,
        ["database", "identity_provider"],
    )


def test_metrics_count_requests_and_gate_decisions(portal):
    requests.get(portal.base_url + "/stable/hello/", allow_redirects=False, timeout=10)
    text = requests.get(portal.base_url + "/metrics", timeout=10).text
    assert 'portal_requests_total{product="stable/hello",status="302"}' in text
    assert (
        'portal_gate_decisions_total{decision="redirected",product="stable/hello",'
        'tier="anonymous"}' in text
    )
    assert "portal_broken_products" in text


def test_https_responses_carry_hsts(https_site):
    answer = https_site.get("/healthz", base_url="https://portal.test")
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_readyz_is_503_naming_the_part_that_fails(https_site):
    answer = https_site.get("/readyz", base_url="https://portal.test")
    assert answer.status_code == 503
    assert answer.json["checks"]["database"] == "ok"
    assert answer.json["checks"]["identity_provider"].startswith("metadata unavailable")


def test_metrics_refuse_other_addresses(https_site):
    answer = https_site.get(
        "/metrics", base_url="https://portal.test", environ_base={"REMOTE_ADDR": "10.9.8.7"}
    )
    assert answer.status_code == 403


def test_metrics_open_to_the_metrics_token_from_anywhere(https_site):
    answer = https_site.get(
        "/metrics",
        base_url="https://portal.test",
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
        headers={"Authorization": "Bearer metrics-token-0123456789"},
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"


def test_json_log_lines_carry_the_request_context():
    stream = io.StringIO()
    configure_logging(json_lines=True)
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)
    token = LOG_CONTEXT.set({"request_id": "req-1", "user_id": 7, "product": "ea/forecast"})
    try:
        logging.getLogger("portal.test").info("hello")
    finally:
        LOG_CONTEXT.reset(token)
        configure_logging(json_lines=False)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert (line["message"], line["request_id"], line["user_id"], line["product"]) == (
        "hello",
        "req-1",
        7,
        "ea/forecast",
    )
    assert line["level"] == "INFO"


def proxied_portal(tmp_path, trusted_proxies):
    application = create_app(
        Settings(
            secret_key="proxy-tests-secret-0123456789-abcdefghijklmn",
            database_url=f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            base_url="https://portal.test",
            instance_path=tmp_path,
            oidc_issuer="https://127.0.0.1:9/",
            oidc_client_id="portal",
            oidc_client_secret="client-secret",
            trusted_proxies=trusted_proxies,
        )
    )
    return Client(application)


@pytest.mark.parametrize(("trusted", "status"), [(1, 200), (0, 403)])
def test_forwarded_addresses_count_only_behind_a_trusted_proxy(tmp_path, trusted, status):
    client = proxied_portal(tmp_path, trusted)
    answer = client.get(
        "/metrics",
        base_url="https://portal.test",
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
        headers={"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"},
    )
    assert answer.status_code == status
