"""What the Gate does around an allowed request: cookies, caching, websockets, database trouble."""

import textwrap

import pytest
import requests
from sqlalchemy import text

from tests.support.live import private_site
from tests.support.raw import raw_get
from tests.support.sessions import signed_in
from tests.support.signin import session_id_of

pytestmark = pytest.mark.site

ECHO = """
import json


def app(environ, start_response):
    seen = {"cookie": environ.get("HTTP_COOKIE", ""), "remote_user": environ.get("REMOTE_USER")}
    start_response("200 OK", [
        ("Content-Type", "application/json"),
        ("Set-Cookie", "portal_session=planted; Path=/"),
        ("Set-Cookie", "echo_pref=dark; Path=/stable/echo"),
    ])
    return [json.dumps(seen).encode()]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    (apps / "stable" / "echo").mkdir(parents=True)
    (apps / "stable" / "echo" / "__init__.py").write_text(textwrap.dedent(ECHO))
    with private_site(tmp_path_factory, apps_dir=apps) as live:
        yield live


def test_the_product_never_sees_the_portal_session_cookie(site):
    http = signed_in(site, "stable")
    http.cookies.set("echo_pref", "dark", path="/stable/echo")
    seen = http.get(site.base_url + "/stable/echo/", timeout=10).json()
    assert "portal_session" not in seen["cookie"]
    assert "echo_pref=dark" in seen["cookie"]
    assert seen["remote_user"] == "auth0|demo-stable"


def test_a_product_cannot_set_the_portal_session_cookie(site):
    http = signed_in(site, "stable")
    before = http.cookies["portal_session"]
    answer = http.get(site.base_url + "/stable/echo/", timeout=10)
    set_cookies = answer.raw.headers.getlist("Set-Cookie")
    assert set_cookies == ["echo_pref=dark; Path=/stable/echo"]
    assert http.cookies["portal_session"] == before


def test_product_answers_are_private_to_the_user(site):
    http = signed_in(site, "stable")
    answer = http.get(site.base_url + "/stable/echo/", timeout=10)
    assert answer.headers["Cache-Control"] == "private"
    assert answer.headers["Vary"] == "Cookie"


def test_the_signed_in_dashboard_is_not_cached(site):
    http = signed_in(site, "stable")
    answer = http.get(site.base_url + "/", timeout=10)
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert "Cookie" in answer.headers["Vary"]


def cookie_header(http):
    return f"portal_session={http.cookies['portal_session']}"


def test_a_websocket_upgrade_from_another_site_is_refused(site):
    http = signed_in(site, "stable")
    headers = {
        "Cookie": cookie_header(http),
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Origin": "https://evil.example",
    }
    answer = raw_get(site.base_url, "/stable/echo/ws", headers)
    assert answer.status == 403
    assert '"error": "forbidden_origin"' in answer.body


def test_a_websocket_upgrade_from_the_portal_itself_passes_the_gate(site):
    http = signed_in(site, "stable")
    headers = {
        "Cookie": cookie_header(http),
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Origin": site.base_url,
    }
    assert raw_get(site.base_url, "/stable/echo/ws", headers).status == 200


def test_non_ascii_paths_survive_the_trip_through_login(site):
    answer = requests.get(site.base_url + "/stable/echo/café", allow_redirects=False, timeout=10)
    assert answer.headers["Location"] == "/login?next=%2Fstable%2Fecho%2Fcaf%25C3%25A9"


def test_a_database_failure_is_a_clean_503(site):
    http = signed_in(site, "stable")
    site.services.resolver.forget(session_id_of(site, http))
    with site.services.database.engine.begin() as connection:
        connection.execute(text("ALTER TABLE sessions RENAME TO sessions_away"))
    try:
        answer = http.get(site.base_url + "/stable/echo/", timeout=10)
    finally:
        with site.services.database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE sessions_away RENAME TO sessions"))
    assert answer.status_code == 503
    assert "The portal cannot check your session right now." in answer.text
    assert "Traceback" not in answer.text
