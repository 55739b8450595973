"""A product using plain flask-sock (not the portal's PortalSock) gets the same closes: the Gate
guards every socket it lets through, whatever library the product upgrades it with."""

import textwrap

import pytest

from tests.support.databases import database_url_for
from tests.support.live import private_site
from tests.support.processes import Gunicorn
from tests.support.signin import sign_in
from tests.support.websockets import logout, open_socket, update_user, wait_closed

pytestmark = pytest.mark.gunicorn

PLAIN_FLASK_SOCK = """
from flask import Flask
from flask_sock import Sock

app = Flask(__name__)
sock = Sock(app)


@sock.route("/ws")
def echo(ws):
    while True:
        ws.send(ws.receive())
"""


def plain_apps(tmp_path_factory):
    apps = tmp_path_factory.mktemp("apps")
    (apps / "ea" / "echo").mkdir(parents=True)
    (apps / "ea" / "echo" / "__init__.py").write_text(textwrap.dedent(PLAIN_FLASK_SOCK))
    return apps


@pytest.fixture(scope="module")
def devserver(tmp_path_factory):
    with private_site(tmp_path_factory, apps_dir=plain_apps(tmp_path_factory)) as live:
        yield live


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    with database_url_for("sqlite", tmp_path_factory) as url:
        instance = tmp_path_factory.mktemp("instance")
        server = Gunicorn(
            {
                "DATABASE_URL": url,
                "PORTAL_INSTANCE_PATH": str(instance),
                "PORTAL_APPS_DIR": str(plain_apps(tmp_path_factory)),
            },
            workers=1,
            log_path=instance / "gunicorn.log",
        )
        server.settings_url = url
        yield server
        server.stop()


@pytest.fixture(params=["devserver", "gunicorn"])
def site(request):
    site = request.getfixturevalue(request.param)
    base_url = site.base_url
    url = site.settings.database_url if request.param == "devserver" else site.settings_url
    return base_url, url


def test_signing_out_closes_a_plain_flask_sock_socket_at_once(site):
    base_url, _ = site
    http = sign_in(base_url, "ea")
    with open_socket(base_url, "/ea/echo/ws", http) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        logout(base_url, http)
        assert wait_closed(ws, seconds=5) == (4001, "Your session ended: signed out.")


def test_a_tier_drop_closes_a_plain_flask_sock_socket(site):
    base_url, database_url = site
    http = sign_in(base_url, "devel")
    try:
        with open_socket(base_url, "/ea/echo/ws", http) as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
            update_user(database_url, "devel@example.com", tier="stable")
            assert wait_closed(ws, seconds=10) == (4003, "Your tier no longer opens ea/echo.")
    finally:
        update_user(database_url, "devel@example.com", tier="devel")
