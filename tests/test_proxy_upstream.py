"""An `upstream =` product: a Node.js `http` server someone else runs, fronted by the portal.

The site runs on a real socket (werkzeug's threaded server, as `portal serve`); the upstream is a
real Node process (tests/support/upstream.js) or, for websockets, the `websockets` library's
server. Nothing is mocked: what the upstream reports is what it received.
"""

import json
import queue
import shutil
import threading
import time

import jwt
import pytest
import requests
from click.testing import CliRunner
from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.sync.server import serve

from portal.cli import main
from portal.config import PROJECT_ROOT
from tests.support.live import private_site
from tests.support.processes import free_port
from tests.support.raw import raw_get
from tests.support.sessions import signed_in
from tests.support.upstreams import NodeUpstream, upstream_product
from tests.support.websockets import logout, open_socket, refused, update_user, wait_closed

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def node():
    server = NodeUpstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def node_on_socket(tmp_path_factory):
    server = NodeUpstream(str(tmp_path_factory.mktemp("sock") / "node.sock"))
    yield server
    server.stop()


#: (path, close code) of every socket the websocket upstream saw end.
CLOSED = queue.Queue()


@pytest.fixture(scope="module")
def websocket_upstream():
    """An echo server that first sends the headers its upgrade arrived with."""

    def handler(ws):
        ws.send(json.dumps({name.lower(): value for name, value in ws.request.headers.raw_items()}))
        try:
            for message in ws:
                ws.send(message)
        finally:
            CLOSED.put((ws.request.path, ws.close_code))

    def refuse_some(connection, request):
        if request.path == "/refused":
            return Response(403, "Forbidden", Headers([("Content-Length", "2")]), b"no")
        return None

    server = serve(handler, "127.0.0.1", 0, process_request=refuse_some)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.socket.getsockname()[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def site(tmp_path_factory, node, node_on_socket, websocket_upstream):
    apps = tmp_path_factory.mktemp("site") / "apps"
    upstream_product(apps, "ea/node", node.url, health="/health")
    upstream_product(apps, "ea/slow", node.url, timeout=1)
    upstream_product(apps, "ea/gone", f"http://127.0.0.1:{free_port()}")
    upstream_product(apps, "ea/sock", node_on_socket.url, health="/health")
    upstream_product(apps, "ea/relay", websocket_upstream)
    upstream_product(apps, "ea/sick", node.url, health="/missing")
    upstream_product(apps, "ea/edited", node.url)
    shutil.copytree(PROJECT_ROOT / "apps" / "admin", apps / "admin")  # the admin console
    with private_site(tmp_path_factory, apps_dir=apps) as live:
        yield live


@pytest.fixture(scope="module")
def ea(site):
    return signed_in(site, "ea")


def echo(site, http, path="/ea/node/echo", **kwargs):
    response = http.get(site.base_url + path, timeout=10, **kwargs)
    assert response.status_code == 200, response.text[:500]
    return response.json()


# --- who is calling -------------------------------------------------------------------------------


def test_the_upstream_gets_the_identity_headers(site, ea):
    headers = echo(site, ea)["headers"]
    assert {name: headers[name] for name in headers if name.startswith("x-portal-")} == {
        "x-portal-user": "auth0|demo-ea",
        "x-portal-email": "ea@example.com",
        "x-portal-name": "Eve Early",
        "x-portal-tier": "ea",
        "x-portal-identity": headers["x-portal-identity"],
    }


def test_identity_headers_sent_by_the_client_never_arrive(site, ea):
    spoofed = {
        "X-Portal-User": "auth0|demo-admin",
        "X-Portal-Tier": "admin",
        "X-Portal-Email": "admin@example.com",
        "X-Portal-Identity": "forged",
        "Remote-User": "admin",
    }
    headers = echo(site, ea, headers=spoofed)["headers"]
    assert (headers["x-portal-user"], headers["x-portal-tier"], "remote-user" in headers) == (
        "auth0|demo-ea",
        "ea",
        False,
    )
    assert headers["x-portal-identity"] != "forged"


def test_the_identity_token_verifies_with_the_portals_published_key(site, ea):
    token = echo(site, ea)["headers"]["x-portal-identity"]
    keys = jwt.PyJWKClient(site.base_url + "/.well-known/jwks.json")
    claims = jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token),
        algorithms=["RS256"],
        audience="ea/node",
        issuer=site.base_url,
    )
    assert (claims["sub"], claims["email"], claims["tier"]) == (
        "auth0|demo-ea",
        "ea@example.com",
        "ea",
    )


def test_the_identity_token_is_refused_for_another_product(site, ea):
    token = echo(site, ea)["headers"]["x-portal-identity"]
    keys = jwt.PyJWKClient(site.base_url + "/.well-known/jwks.json")
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(
            token,
            keys.get_signing_key_from_jwt(token),
            algorithms=["RS256"],
            audience="ea/sock",
            issuer=site.base_url,
        )


def test_the_gate_decides_before_the_upstream_is_asked(site):
    stable = signed_in(site, "stable")
    anonymous = requests.get(site.base_url + "/ea/node/echo", allow_redirects=False, timeout=10)
    assert stable.get(site.base_url + "/ea/node/echo", timeout=10).status_code == 403
    assert (anonymous.status_code, anonymous.headers["Location"]) == (
        302,
        "/login?next=%2Fea%2Fnode%2Fecho",
    )


# --- what the upstream receives -------------------------------------------------------------------


def test_the_upstream_gets_the_path_below_the_mount_and_the_query(site, ea):
    assert echo(site, ea, "/ea/node/echo/a%20b/c?q=1&r=%2F")["url"] == "/echo/a%20b/c?q=1&r=%2F"


def test_forwarded_headers_are_the_portals_not_the_clients(site, ea):
    sent = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Prefix": "/evil", "Forwarded": "for=6.6.6.6"}
    headers = echo(site, ea, headers=sent)["headers"]
    host = site.base_url.removeprefix("http://")
    assert {
        name: headers.get(name)
        for name in (
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-prefix",
            "forwarded",
            "host",
        )
    } == {
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-proto": "http",
        "x-forwarded-host": host,
        "x-forwarded-prefix": "/ea/node",
        "forwarded": None,
        "host": host,
    }


def test_hop_by_hop_request_headers_stop_at_the_portal(site, ea):
    sent = {"Connection": "keep-alive, X-Private-Hop", "X-Private-Hop": "1", "TE": "trailers"}
    headers = echo(site, ea, headers=sent)["headers"]
    assert [name for name in ("x-private-hop", "te", "keep-alive") if name in headers] == []


def test_the_portals_session_cookie_never_reaches_the_upstream(site, ea):
    assert "portal_session" not in echo(site, ea)["headers"].get("cookie", "")


def test_a_chunked_upload_arrives_whole_and_chunked(site, ea):
    pieces = (bytes([i % 251]) * 1000 for i in range(300))
    answer = ea.post(site.base_url + "/ea/node/upload", data=pieces, timeout=30).json()
    assert (answer["bytes"], answer["chunked"]) == (300_000, True)


def test_a_sized_upload_arrives_whole_with_its_length(site, ea):
    answer = ea.post(site.base_url + "/ea/node/upload", data=b"y" * 500_000, timeout=30).json()
    assert (answer["bytes"], answer["chunked"]) == (500_000, False)


def test_a_body_length_that_is_not_a_number_gets_a_400(site, ea):
    answer = raw_get(
        site.base_url,
        "/ea/node/echo",
        {
            "Cookie": f"portal_session={ea.cookies['portal_session']}",
            "Content-Length": "lots",
            "Accept": "application/json",
        },
    )
    assert (answer.status, json.loads(answer.body)) == (
        400,
        {
            "error": "bad_request",
            "message": "Content-Length must be a number of bytes, got 'lots'.",
            "product": "ea/node",
        },
    )


def test_a_unix_socket_upstream_is_served_the_same(site, ea):
    assert echo(site, ea, "/ea/sock/echo")["headers"]["x-portal-user"] == "auth0|demo-ea"


# --- what the client gets back --------------------------------------------------------------------


def test_hop_by_hop_response_headers_stop_at_the_portal(site, ea):
    response = ea.get(site.base_url + "/ea/node/hop", timeout=10)
    assert (
        response.text,
        "X-Secret-Hop" in response.headers,
        "Keep-Alive" in response.headers,
    ) == (
        "ok",
        False,
        False,
    )


def test_cookies_of_the_upstream_are_scoped_to_the_mount(site, ea):
    response = ea.get(site.base_url + "/ea/node/cookies", timeout=10)
    assert response.raw.headers.getlist("Set-Cookie") == [
        "plain=1; Path=/ea/node",
        "rooted=2; Path=/ea/node",
        "deep=3; Path=/ea/node/reports; HttpOnly",
    ]


def test_a_redirect_to_the_upstreams_root_stays_in_the_mount(site, ea):
    response = ea.get(site.base_url + "/ea/node/redirect", allow_redirects=False, timeout=10)
    assert (response.status_code, response.headers["Location"]) == (
        302,
        "/ea/node/landing?from=redirect",
    )


def test_head_gets_the_headers_without_a_body(site, ea):
    response = ea.head(site.base_url + "/ea/node/file", timeout=10)
    assert (response.status_code, response.headers["Content-Length"], response.content) == (
        200,
        "1000",
        b"",
    )


def test_a_range_request_gets_the_part_it_asked_for(site, ea):
    response = ea.get(site.base_url + "/ea/node/file", headers={"Range": "bytes=2-5"}, timeout=10)
    assert (response.status_code, response.headers["Content-Range"], response.content) == (
        206,
        "bytes 2-5/1000",
        b"CDEF",
    )


def read_event(response) -> bytes:
    """One server-sent event, read as it arrives (the read timeout bounds a buffered stream)."""
    seen = b""
    while b"\n\n" not in seen:
        chunk = response.raw.read1(1024)
        assert chunk, f"the stream ended after {seen!r}"
        seen += chunk
    return seen


def test_server_sent_events_arrive_one_by_one(site, ea, node):
    stream = ea.get(site.base_url + "/ea/node/sse", stream=True, timeout=10)
    assert read_event(stream) == b"data: first\n\n"
    requests.get(node.url + "/sse/release", timeout=10)  # only now does the upstream send more
    assert read_event(stream) == b"data: second\n\n"
    stream.close()


# --- when the upstream is down or slow ------------------------------------------------------------


def test_an_upstream_that_is_down_gets_a_502_page_naming_the_product(site, ea):
    response = ea.get(site.base_url + "/ea/gone/anything", timeout=10)
    assert response.status_code == 502
    assert "<title>Gone is not answering" in response.text
    assert "ea/gone could not be reached" in response.text
    assert "connection refused" not in response.text


def test_devel_users_see_why_an_upstream_is_unreachable(site):
    devel = signed_in(site, "devel")
    response = devel.get(site.base_url + "/ea/gone/anything", timeout=10)
    assert (response.status_code, "connection refused" in response.text) == (502, True)


def test_an_api_client_gets_the_502_as_json(site, ea):
    response = ea.get(
        site.base_url + "/ea/gone/api", headers={"Accept": "application/json"}, timeout=10
    )
    assert (response.status_code, response.json()) == (
        502,
        {
            "error": "bad_gateway",
            "message": "ea/gone could not be reached, so this page can't be shown. Try again in a "
            "moment; the rest of the portal works as usual.",
            "product": "ea/gone",
        },
    )


def test_an_upstream_slower_than_its_timeout_gets_a_504_page_naming_the_product(site, ea):
    response = ea.get(site.base_url + "/ea/slow/slow", timeout=30)
    assert response.status_code == 504
    assert "<title>Slow is taking too long" in response.text
    assert "ea/slow did not answer within 1 s" in response.text


def test_the_rest_of_the_portal_is_unaffected_by_a_down_upstream(site, ea):
    ea.get(site.base_url + "/ea/gone/", timeout=10)
    assert echo(site, ea)["method"] == "GET"
    assert ea.get(site.base_url + "/", timeout=10).status_code == 200


def test_an_edit_that_breaks_product_toml_keeps_the_upstream_served_as_it_was(site, ea):
    toml = site.settings.apps_dir / "ea" / "edited" / "product.toml"
    good = toml.read_text()
    toml.write_text(good + 'timeout = "soon"\n')
    try:
        site.application.extensions["portal.mounts"].watcher.rescan()
        [edited] = [p for p in site.services.discovery.products if p.info.key == "ea/edited"]
        assert edited.reload_error == "product.toml: timeout must be a number of seconds"
        assert echo(site, ea, "/ea/edited/echo")["headers"]["x-forwarded-prefix"] == "/ea/edited"
    finally:
        toml.write_text(good)


# --- state ----------------------------------------------------------------------------------------


def state_of(site, key):
    [product] = [p for p in site.services.discovery.products if p.info.key == key]
    return product.process_state()


def test_an_answering_upstream_is_up_and_a_refusing_one_down(site, ea):
    ea.get(site.base_url + "/ea/node/echo", timeout=10)
    ea.get(site.base_url + "/ea/gone/", timeout=10)
    up, gone = state_of(site, "ea/node"), state_of(site, "ea/gone")
    assert (up.state.value, gone.state.value, gone.detail) == ("up", "down", "connection refused")


def test_the_health_path_decides_the_state_without_any_request(site):
    state = state_of(site, "ea/sick")
    deadline = time.monotonic() + 10
    while state.state.value == "starting" and time.monotonic() < deadline:
        time.sleep(0.05)
        state = state_of(site, "ea/sick")
    assert (state.state.value, state.detail) == ("down", "GET /missing answered 404")


def test_the_admin_console_shows_each_upstreams_state(site):
    admin = signed_in(site, "admin")
    admin.get(site.base_url + "/ea/gone/", timeout=10)
    page = admin.get(site.base_url + "/admin/manage/products", timeout=10).text
    gone = page.split('data-product="ea/gone"')[1].split("</tr>")[0]
    assert 'status-pill--down">Down</span>' in gone
    assert "connection refused" in gone


def test_portal_apps_shows_whether_each_upstream_answers(tmp_path, monkeypatch, node):
    apps = tmp_path / "apps"
    upstream_product(apps, "ea/node", node.url, health="/health")
    upstream_product(apps, "ea/gone", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("PORTAL_APPS_DIR", str(apps))
    monkeypatch.delenv("PORTAL_APPS", raising=False)
    result = CliRunner().invoke(main, ["apps"], catch_exceptions=False)
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["TIER", "NAME", "MOUNT", "STATUS"],
        ["ea", "gone", "/ea/gone/", "down", "(upstream)"],
        ["ea", "node", "/ea/node/", "up", "(upstream)"],
    ]
    assert "ea/gone: http://127.0.0.1:" in result.stderr
    assert result.stderr.rstrip().endswith(": connection refused")


# --- websockets -----------------------------------------------------------------------------------


def test_a_websocket_is_relayed_with_the_identity_headers(site, ea):
    ws = open_socket(site.base_url, "/ea/relay/chat", ea)
    upgrade = json.loads(ws.recv(timeout=10))
    ws.send("hello")
    assert (upgrade["x-portal-user"], upgrade["x-forwarded-prefix"], ws.recv(timeout=10)) == (
        "auth0|demo-ea",
        "/ea/relay",
        "hello",
    )
    ws.close()


def test_large_websocket_messages_pass_whole(site, ea):
    ws = open_socket(site.base_url, "/ea/relay/chat", ea, max_size=None)
    ws.recv(timeout=10)
    ws.send("x" * 1_000_000)
    assert ws.recv(timeout=10) == "x" * 1_000_000
    ws.close()


def test_an_upgrade_the_upstream_refuses_is_refused(site, ea):
    with pytest.raises(Exception) as raised:
        open_socket(site.base_url, "/ea/relay/refused", ea)
    assert raised.value.response.status_code == 403


def test_a_websocket_to_an_upstream_that_is_down_gets_a_502(site, ea):
    assert refused(site.base_url, "/ea/gone/ws", ea) == (
        502,
        {
            "error": "bad_gateway",
            "message": "ea/gone could not be reached, so this page can't be shown. Try again in a "
            "moment; the rest of the portal works as usual.",
            "product": "ea/gone",
        },
    )


def test_a_relayed_websocket_needs_a_session_like_any(site):
    assert refused(site.base_url, "/ea/relay/chat")[0] == 401


def test_signing_out_closes_a_relayed_websocket(site):
    http = signed_in(site, "ea")
    ws = open_socket(site.base_url, "/ea/relay/chat", http)
    ws.recv(timeout=10)
    logout(site.base_url, http)
    assert wait_closed(ws) == (4001, "Your session ended: signed out.")


def test_a_tier_drop_closes_a_relayed_websocket(site):
    http = signed_in(site, "ea")
    ws = open_socket(site.base_url, "/ea/relay/chat", http)
    ws.recv(timeout=10)
    update_user(site.settings.database_url, "ea@example.com", tier="stable")
    try:
        assert wait_closed(ws) == (4003, "Your tier no longer opens ea/relay.")
    finally:
        update_user(site.settings.database_url, "ea@example.com", tier="ea")


def test_the_upstream_is_told_the_client_went_away_when_the_portal_closes_a_socket(site):
    http = signed_in(site, "ea")
    ws = open_socket(site.base_url, "/ea/relay/told", http)
    ws.recv(timeout=10)
    logout(site.base_url, http)
    wait_closed(ws)
    ended = CLOSED.get(timeout=10)
    while ended[0] != "/told":
        ended = CLOSED.get(timeout=10)
    assert ended == ("/told", 1001)
