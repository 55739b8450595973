"""What an attacker can put in a forward-auth check, answered alike on werkzeug's server and on
gunicorn: a client beside the proxy naming another request, control characters, encoded
separators and addresses off the site all get a 400 before anyone's session is read."""

from __future__ import annotations

import json
import shutil

import pytest

from portal.config import PROJECT_ROOT
from tests.support.raw import raw_get
from tests.support.servers import served_portal
from tests.support.tiers import on_server


@pytest.fixture(scope="module", params=[on_server(name, name) for name in ("werkzeug", "gunicorn")])
def server(request, tmp_path_factory):
    """The base URL of a path-mode portal serving stable/hello and ea/forecast, on each server."""
    apps = tmp_path_factory.mktemp("apps")
    for key in ("stable/hello", "ea/forecast"):
        shutil.copytree(PROJECT_ROOT / "apps" / key, apps / key)
    with served_portal(request.param, tmp_path_factory, apps) as base_url:
        yield base_url


#: What a 200 hands the proxy to pass on: none may come with a refusal.
IDENTITY = {f"x-portal-{part}" for part in ("user", "email", "name", "tier", "identity")}
DISAGREE = "X-Original-URI and X-Forwarded-Uri name different requests"
NOT_A_PATH = "X-Original-URI / X-Forwarded-Uri must be a path and query, 8 KiB at most"
ATTACKS = {
    "client names a lower product beside Caddy": (
        {"X-Forwarded-Uri": "/ea/forecast/", "X-Original-URI": "/stable/hello/"},
        DISAGREE,
    ),
    "client names a lower product beside nginx": (
        {"X-Original-URI": "/ea/forecast/", "X-Forwarded-Uri": "/stable/hello/"},
        DISAGREE,
    ),
    "client adds a query": (
        {"X-Forwarded-Uri": "/ea/forecast/", "X-Original-URI": "/ea/forecast/?a=1"},
        DISAGREE,
    ),
    "client names another method": (
        {
            "X-Forwarded-Uri": "/ea/forecast/",
            "X-Forwarded-Method": "POST",
            "X-Original-Method": "GET",
        },
        "X-Original-Method and X-Forwarded-Method name different methods",
    ),
    "off-site address": ({"X-Original-URI": "http://evil.example/ea/forecast/"}, NOT_A_PATH),
    "encoded NUL": ({"X-Original-URI": "/ea/forecast/%00"}, "the path holds an encoded NUL"),
}


@pytest.mark.parametrize(("headers", "message"), ATTACKS.values(), ids=ATTACKS.keys())
def test_a_forged_check_is_refused_with_400_and_the_reason(server, headers, message):
    answer = raw_get(server, "/auth/check", headers)
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    assert message in answer.body


@pytest.mark.parametrize(
    ("uri", "status", "error"),
    [
        ("/ea/forecast/%23/", 401, "unauthenticated"),
        ("/ea/forecast/%3F/", 401, "unauthenticated"),
        ("/ea/forecast/%5C/", 401, "unauthenticated"),
        ("/stable/hello/%252e%252e/%252e%252e/ea/forecast/", 401, "unauthenticated"),
        ("/ea/forecast%2F", 403, "ambiguous_path"),
        ("/stable/hello/..%2F..%2Fea/forecast/", 403, "ambiguous_path"),
        ("//evil.example/ea/forecast/", 403, "not_a_product"),
    ],
)
def test_an_encoded_separator_or_foreign_host_is_decided_without_opening_anything(
    server, uri, status, error
):
    """Encoded separators stay inside the product they were sent to (a sign-in is asked for);
    a path that names another product once decoded, or another host, is refused outright."""
    answer = raw_get(server, "/auth/check", {"X-Original-URI": uri})
    assert (answer.status, json.loads(answer.body)["error"]) == (status, error)
    assert not IDENTITY & answer.headers.keys()


@pytest.mark.parametrize("control", ["\r", "\n", "\x00"])
def test_a_control_character_in_the_named_request_is_refused(server, control):
    answer = raw_get(server, f"/auth/check?x=a%{ord(control):02x}b", {})
    assert answer.status == 400
