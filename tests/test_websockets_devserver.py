"""Websockets on the development server (werkzeug, threaded, as `portal serve` runs it): the
sample product on both databases, and a plain Flask product using `PortalSock` directly."""

import textwrap

import pytest
import requests
from websockets.sync.client import connect

from auth.sockets import MAX_REASON_BYTES, close_reason
from tests.support.live import private_site
from tests.support.sessions import signed_in
from tests.support.websockets import (
    logout,
    open_socket,
    receive_json,
    refused,
    update_user,
    wait_closed,
    ws_url,
)

pytestmark = pytest.mark.site

PLAIN = """
import json

from flask import Flask, request

from kit import PortalSock

app = Flask(__name__)
app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": 7}
sock = PortalSock(app, max_message_size=1000)


@sock.route("/ws")
def where(ws):
    ws.send(json.dumps({
        "script_name": request.environ["SCRIPT_NAME"],
        "path_info": request.environ["PATH_INFO"],
        "user": request.environ["portal.user"].email,
        "cookie": request.environ.get("HTTP_COOKIE", ""),
        "ping_interval": ws.ping_interval,
        "max_message_size": ws.max_message_size,
    }))
    while True:
        ws.send(ws.receive())


@sock.route("/big", max_message_size=100_000)
def big(ws):
    ws.send(str(len(ws.receive())))


@sock.route("/boom")
def boom(ws):
    ws.receive()
    raise RuntimeError("a bug in the product")


@app.get("/")
def index():
    return "plain"
"""


@pytest.fixture(scope="module")
def plain_site(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    (apps / "stable" / "plain").mkdir(parents=True)
    (apps / "stable" / "plain" / "__init__.py").write_text(textwrap.dedent(PLAIN))
    with private_site(tmp_path_factory, apps_dir=apps) as live:
        yield live


def test_the_sample_echoes_and_broadcasts_within_one_process(portal):
    http = signed_in(portal, "ea")
    with (
        open_socket(portal.base_url, "/ea/live/ws", http) as first,
        open_socket(portal.base_url, "/ea/live/ws", signed_in(portal, "admin")) as second,
    ):
        receive_json(first)
        receive_json(second)
        first.send("one process")
        assert receive_json(first) == {"type": "echo", "text": "one process"}
        heard = receive_json(second)
        assert (heard["type"], heard["text"], heard["from"]["name"]) == (
            "message",
            "one process",
            "Eve Early",
        )


def test_signing_out_closes_the_socket_at_once(portal):
    http = signed_in(portal, "ea")
    with open_socket(portal.base_url, "/ea/live/ws", http) as ws:
        receive_json(ws)
        logout(portal.base_url, http)
        assert wait_closed(ws, seconds=5) == (4001, "Your session ended: signed out.")


def test_a_tier_drop_closes_the_socket(portal):
    http = signed_in(portal, "devel")
    try:
        with open_socket(portal.base_url, "/ea/live/ws", http) as ws:
            receive_json(ws)
            update_user(portal.settings.database_url, "devel@example.com", tier="stable")
            assert wait_closed(ws, seconds=10) == (4003, "Your tier no longer opens ea/live.")
    finally:
        update_user(portal.settings.database_url, "devel@example.com", tier="devel")


def test_a_socket_opened_with_an_access_token_lives_until_the_users_access_changes(portal):
    portal.services.user_sync().one("auth0|demo-devel")
    token = portal.devidp.access_token_for("devel@example.com")
    url = ws_url(portal.base_url, "/ea/live/ws")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with connect(url, additional_headers=headers, open_timeout=10) as ws:
            assert receive_json(ws)["name"] == "Dev Developer"
            portal.services.sockets.check()  # a watcher pass leaves a token's socket open
            ws.send("still open")
            assert receive_json(ws)["type"] == "echo"
            update_user(portal.settings.database_url, "devel@example.com", tier="stable")
            assert wait_closed(ws, seconds=10) == (4003, "Your tier no longer opens ea/live.")
    finally:
        update_user(portal.settings.database_url, "devel@example.com", tier="devel")


def test_a_plain_flask_route_sees_its_mount_and_the_user_but_not_the_cookie(plain_site):
    http = signed_in(plain_site, "stable")
    with open_socket(plain_site.base_url, "/stable/plain/ws", http) as ws:
        seen = receive_json(ws)
        assert seen["script_name"] == "/stable/plain"
        assert seen["path_info"] == "/ws"
        assert seen["user"] == "stable@example.com"
        assert "portal_session" not in seen["cookie"]
        ws.send("plain echo")
        assert ws.recv(timeout=5) == "plain echo"


def test_options_layer_app_config_then_sock_then_route(plain_site):
    http = signed_in(plain_site, "stable")
    with open_socket(plain_site.base_url, "/stable/plain/ws", http) as ws:
        seen = receive_json(ws)
        assert (seen["ping_interval"], seen["max_message_size"]) == (7, 1000)
        ws.send("x" * 1001)
        assert wait_closed(ws)[0] == 1009
    with open_socket(plain_site.base_url, "/stable/plain/big", http) as ws:
        ws.send("x" * 50_000)
        assert ws.recv(timeout=5) == "50000"


def test_a_failing_route_closes_with_1011_and_the_site_carries_on(plain_site):
    http = signed_in(plain_site, "stable")
    with open_socket(plain_site.base_url, "/stable/plain/boom", http) as ws:
        ws.send("go")
        code, reason = wait_closed(ws)
    assert code == 1011
    assert "a bug" not in reason
    assert http.get(plain_site.base_url + "/stable/plain/", timeout=10).text == "plain"


def test_the_gate_refuses_before_the_route_runs_on_the_development_server(plain_site):
    assert refused(plain_site.base_url, "/stable/plain/ws")[0] == 401
    http = signed_in(plain_site, "stable")
    status, body = refused(
        plain_site.base_url, "/stable/plain/ws", http, origin="http://localhost:1"
    )
    assert (status, body["error"]) == (403, "forbidden_origin")


def test_close_reasons_fit_a_close_frame():
    reason = close_reason("é" * 100)
    assert len(reason.encode()) <= MAX_REASON_BYTES
    assert reason == "é" * 61


def open_gauge(portal):
    for line in requests.get(portal.base_url + "/metrics", timeout=10).text.splitlines():
        if line.startswith('portal_websockets_open{product="ea/live"}'):
            return float(line.split()[-1])
    return 0.0


def test_open_sockets_are_counted_by_product(portal):
    before = open_gauge(portal)
    with open_socket(portal.base_url, "/ea/live/ws", signed_in(portal, "ea")) as ws:
        receive_json(ws)
        assert open_gauge(portal) == before + 1
