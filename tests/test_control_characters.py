"""A request whose path, query or headers hold a control character is refused with a 400 before
any routing, the same way on werkzeug's server and on gunicorn (which used to answer 500 when a
redirect carried one into a header)."""

from __future__ import annotations

import json
import shutil
import socket
from urllib.parse import urlsplit

import pytest

from portal.config import PROJECT_ROOT
from tests.support.raw import raw_get
from tests.support.servers import served_portal
from tests.support.tiers import on_server


@pytest.fixture(scope="module", params=[on_server(name, name) for name in ("werkzeug", "gunicorn")])
def server(request, tmp_path_factory):
    """The base URL of a host-mode portal on each server."""
    apps = tmp_path_factory.mktemp("apps")
    shutil.copytree(PROJECT_ROOT / "apps" / "stable" / "hello", apps / "stable" / "hello")
    with served_portal(request.param, tmp_path_factory, apps, host_mode=True) as base_url:
        yield base_url


CONTROLS = ["%0d", "%0a", "%0d%0a", "%00", "%01", "%09", "%1f", "%7f"]
PLACES = {
    "product path": "/stable/hello/a{c}b",
    "product name": "/stable/a{c}b/",
    "portal path": "/a{c}b",
    "health check": "/healthz/{c}",
    "query": "/?q=a{c}b",
    "sign-in next": "/login?next=/stable/hello/{c}",
    "handoff next": "/_portal/handoff?product=stable/hello&next=/stable/hello/{c}",
}
REFUSED_JSON = {
    "error": "control_characters",
    "message": "The address or a header of this request holds a control character (such as a "
    "line break or NUL), which no link or browser sends. Check the link you followed.",
}


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("place", PLACES)
def test_a_control_character_in_the_address_gets_the_400_page(server, place, control):
    answer = raw_get(server, PLACES[place].format(c=control), {"Accept": "text/html"})
    assert (answer.status, answer.headers["content-type"]) == (400, "text/html; charset=utf-8")
    assert "location" not in answer.headers and "set-cookie" not in answer.headers
    assert "holds a control character" in answer.body


@pytest.mark.parametrize("control", CONTROLS)
def test_an_api_client_gets_the_refusal_as_json(server, control):
    answer = raw_get(server, f"/api/me?x={control}", {"Accept": "application/json"})
    assert (answer.status, json.loads(answer.body)) == (400, REFUSED_JSON)


def send(base_url: str, request: bytes) -> tuple[int, str]:
    """A request written byte for byte: the status and the whole answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head = received.decode("latin-1")
    return int(head.split(" ", 2)[1]), head


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\x7f"])
def test_a_control_character_in_a_header_is_refused(server, control):
    host = urlsplit(server).netloc
    request = (
        f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Note: a{control}b\r\n"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    )
    status, answer = send(server, request.encode("latin-1"))
    assert status == 400
    assert "Set-Cookie" not in answer and "Location" not in answer


def test_a_tab_inside_a_header_value_is_allowed(server):
    host = urlsplit(server).netloc
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Note: a\tb\r\nConnection: close\r\n\r\n"
    status, _answer = send(server, request.encode("latin-1"))
    assert status == 200


def test_a_request_with_no_control_character_is_served(server):
    assert raw_get(server, "/healthz").status == 200
    assert raw_get(server, "/?q=a%20b%25").status == 200
