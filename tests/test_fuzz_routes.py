"""Generated input against every route of the portal and of the admin console's API: no 5xx.

Hypothesis sends paths (with generated values for every path argument), query strings, form and
JSON bodies, raw bytes and headers to the real site, in-process through werkzeug's test client,
as a signed-in admin. Every answer must be below 500, and a refused request (4xx) must leave the
users table and the audit log exactly as they were. The examples are derandomized, so every run
sends the same requests and a failure can be replayed.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.routing import Rule
from werkzeug.test import Client

from db.models import AuditEvent, User
from tests.support.live import WEBHOOK_SECRET, private_site
from tests.support.sessions import signed_in

pytestmark = pytest.mark.site

CONSOLE = "/admin/manage"
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, a test client, and the admin's cookies (the portal's and the console's own,
    which holds the CSRF secret) as one Cookie header."""
    with private_site(tmp_path_factory, login_rate_limit="") as live:
        admin = signed_in(live, "admin")
        CSRF.append(
            admin.get(live.base_url + CONSOLE + "/api/csrf", timeout=10).json()["csrf_token"]
        )
        cookies = "; ".join(f"{c.name}={c.value}" for c in admin.cookies)
        BASE_URL.append(live.base_url)
        yield live, Client(live.application, use_cookies=False), cookies


#: The admin's real CSRF token, once the site has started: some requests carry it.
CSRF: list[str] = []
#: The site's own address, once it has started.
BASE_URL: list[str] = []


def portal_rules(live) -> list[tuple[str, Rule]]:
    return [
        ("", rule) for rule in live.application.url_map.iter_rules() if rule.endpoint != "static"
    ]


def console_rules(live) -> list[tuple[str, Rule]]:
    console = next(p for p in live.services.discovery.products if p.info.key == "admin/manage")
    return [
        (CONSOLE, rule)
        for rule in console.app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    ]


values = st.one_of(
    st.text(min_size=1, max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        ["99999999999999999999999", "0", "-1", "1", "auth0|demo-admin", "auth0|demo-stable"]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "next",
        "token",
        "tier",
        "product",
        "expires_at",
        "subject",
        "action",
        "confirm",
        "q",
        "cursor",
        "page_size",
        "state",
        "code",
        "error",
        "error_description",
        "logout_token",
        "user_id",
        "user_ids",
        "subjects",
        "data",
    ]
) | st.text(min_size=1, max_size=8)
bodies = st.one_of(
    st.none(),
    st.dictionaries(field_names, st.text(max_size=30), max_size=4).map(lambda d: ("form", d)),
    st.one_of(
        json_values,
        st.dictionaries(field_names, json_values, max_size=4),
        st.lists(st.dictionaries(field_names, json_values, max_size=3), max_size=3),
    ).map(lambda d: ("json", d)),
    st.binary(max_size=200).map(lambda b: ("raw", b)),
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Accept": st.sampled_from(["application/json", "text/html", "*/*", "x/\u00ff"]),
        "Authorization": st.sampled_from(
            [f"Bearer {WEBHOOK_SECRET}", "Bearer x.y.z", "Basic Zm9vOmJhcg==", "Bearer "]
        ),
        "X-CSRFToken": st.one_of(
            st.just("real").map(lambda _: CSRF[0]),
            st.text(
                st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                max_size=20,
            ),
        ),
        "Origin": st.sampled_from(["http://evil.example", "null"]),
        "X-Forwarded-For": st.sampled_from(["203.0.113.9", "not an address"]),
    },
)


@st.composite
def requests_for(draw, rules: list[tuple[str, Rule]]) -> dict:
    prefix, rule = draw(st.sampled_from(rules))
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<{name}>", "{" + name + "}")
        for converter in ("int", "path", "string"):
            path = path.replace(f"<{converter}:{name}>", "{" + name + "}")
    path = path.format(**{name: quote(draw(values), safe="") for name in rule.arguments})
    query = draw(st.dictionaries(field_names, st.text(max_size=30), max_size=3))
    return {
        "method": draw(st.sampled_from(methods)),
        "path": prefix + path + ("?" + urlencode(query) if query else ""),
        "body": draw(bodies),
        "headers": draw(headers),
    }


def snapshot(live) -> tuple:
    with live.services.database.transaction() as db:
        return (
            db.scalar(select(func.count()).select_from(User)),
            db.scalar(select(func.max(User.updated_at))),
            db.scalar(select(func.count(User.id)).where(User.blocked.is_(True))),
            db.scalar(select(func.count()).select_from(AuditEvent)),
        )


def send(client: Client, cookie: str, request: dict):
    """One request as a browser sends it: to the portal's own host (others get 400)."""
    kwargs: dict = {"headers": {"Cookie": cookie, **request["headers"]}, "base_url": BASE_URL[0]}
    if request["body"] is not None:
        kind, body = request["body"]
        if kind == "form":
            kwargs["data"] = body
        elif kind == "json":
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        else:
            kwargs["data"] = body
    return client.open(request["path"], method=request["method"], **kwargs)


def check(site, request: dict) -> None:
    live, client, cookie = site
    before = snapshot(live)
    answer = send(client, cookie, request)
    assert answer.status_code < 500, (request, answer.get_data(as_text=True)[:500])
    if answer.status_code >= 400:
        assert snapshot(live) == before, request


def test_generated_requests_to_the_portals_routes_never_get_a_5xx(site):
    @SETTINGS
    @given(requests_for(portal_rules(site[0])))
    def run(request):
        check(site, request)

    run()


def test_generated_requests_to_the_admin_consoles_api_never_get_a_5xx(site):
    @SETTINGS
    @given(requests_for(console_rules(site[0])))
    def run(request):
        check(site, request)

    run()


def test_a_grant_id_beyond_any_row_is_a_404(site):
    _live, client, cookie = site
    answer = client.delete(
        CONSOLE + "/api/grants/99999999999999999999999",
        headers={"Cookie": cookie, "X-CSRFToken": CSRF[0]},
        base_url=BASE_URL[0],
    )
    assert (answer.status_code, answer.json) == (
        404,
        {"error": "not_found", "message": "There is no grant '99999999999999999999999'."},
    )


def test_a_grant_id_beyond_any_row_is_a_404_page_in_the_console_too(site):
    _live, client, cookie = site
    answer = client.post(
        CONSOLE + "/users/auth0%7Cdemo-stable/grants/99999999999999999999999/revoke",
        headers={"Cookie": cookie, "X-CSRFToken": CSRF[0]},
        base_url=BASE_URL[0],
    )
    assert answer.status_code == 404
    assert answer.mimetype == "text/html"
