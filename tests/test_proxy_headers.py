"""What the proxy changes in headers on the way to a product's server and back."""

import pytest

from portal.products.proxy_headers import (
    cookie_in_mount,
    location_in_mount,
    request_headers,
    response_headers,
)
from portal.products.proxy_websocket import FrameEnds

pytestmark = pytest.mark.unit

ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "/ea/dash",
    "PATH_INFO": "/page",
    "REMOTE_ADDR": "203.0.113.9",
    "wsgi.url_scheme": "https",
    "HTTP_HOST": "portal.example.org",
}


def test_the_request_keeps_end_to_end_headers_and_gets_the_portals_forwarding():
    environ = {**ENVIRON, "HTTP_ACCEPT": "text/html", "CONTENT_TYPE": "application/json"}
    assert request_headers(environ) == [
        ("Host", "portal.example.org"),
        ("Accept", "text/html"),
        ("Content-Type", "application/json"),
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "portal.example.org"),
        ("X-Forwarded-Prefix", "/ea/dash"),
    ]


@pytest.mark.parametrize(
    "key",
    [
        "HTTP_CONNECTION",
        "HTTP_KEEP_ALIVE",
        "HTTP_TE",
        "HTTP_TRAILER",
        "HTTP_TRANSFER_ENCODING",
        "HTTP_UPGRADE",
        "HTTP_PROXY_AUTHORIZATION",
        "HTTP_X_NAMED_BY_CONNECTION",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_PREFIX",
        "HTTP_FORWARDED",
        "HTTP_X_REAL_IP",
        "HTTP_EXPECT",
        "HTTP_X_PORTAL_USER",
        "HTTP_REMOTE_USER",
    ],
)
def test_a_request_header_that_is_hop_by_hop_forwarding_or_identity_stays_behind(key):
    environ = {**ENVIRON, "HTTP_CONNECTION": "x-named-by-connection", key: "client's"}
    assert "client's" not in [value for _, value in request_headers(environ)]


def test_a_websocket_upgrade_asks_the_server_for_the_upgrade():
    environ = {**ENVIRON, "HTTP_CONNECTION": "Upgrade", "HTTP_UPGRADE": "websocket"}
    headers = request_headers(environ, websocket=True)
    assert [h for h in headers if h[0] in ("Connection", "Upgrade")] == [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
    ]


def test_the_response_drops_hop_by_hop_headers_and_the_servers_date_and_name():
    sent = [
        ("Content-Type", "text/plain"),
        ("Connection", "close, X-Hop"),
        ("X-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"),
        ("Server", "node"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2; Path=/x"),
    ]
    assert response_headers(
        sent, mount="/ea/dash", upstream="http://127.0.0.1:8050", host="portal.example.org"
    ) == [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2; Path=/ea/dash/x"),
    ]


@pytest.mark.parametrize(
    ("location", "kept_as"),
    [
        ("/login", "/ea/dash/login"),
        ("/", "/ea/dash/"),
        ("/?a=1", "/ea/dash/?a=1"),
        ("/ea/dash/login", "/ea/dash/login"),
        ("next", "next"),
        ("../up", "../up"),
        ("http://127.0.0.1:8050/base/login?a=1", "/ea/dash/login?a=1"),
        ("http://127.0.0.1:8050/base", "/ea/dash/"),
        ("http://127.0.0.1:8050/other", "/ea/dash/other"),
        ("https://portal.example.org/login", "https://portal.example.org/ea/dash/login"),
        ("https://portal.example.org/ea/dash/x", "https://portal.example.org/ea/dash/x"),
        ("https://accounts.example.com/authorize", "https://accounts.example.com/authorize"),
        ("//elsewhere.example/x", "//elsewhere.example/x"),
        ("/base/login", "/ea/dash/login"),
    ],
)
def test_a_redirect_to_the_server_itself_stays_in_the_mount(location, kept_as):
    assert (
        location_in_mount(
            location,
            mount="/ea/dash",
            upstream="http://127.0.0.1:8050/base",
            host="portal.example.org",
        )
        == kept_as
    )


@pytest.mark.parametrize(
    ("cookie", "kept_as"),
    [
        ("a=1", "a=1"),
        ("a=1; Path=/", "a=1; Path=/"),
        ("a=1; Path=/reports; HttpOnly", "a=1; Path=/ea/dash/reports; HttpOnly"),
        ("a=1; path=/ea/dash/reports", "a=1; path=/ea/dash/reports"),
        ("a=1; Path=/base/reports", "a=1; Path=/ea/dash/reports"),
        ("a=1; Max-Age=60; Path=/x; Secure", "a=1; Max-Age=60; Path=/ea/dash/x; Secure"),
    ],
)
def test_a_cookie_path_from_the_servers_root_moves_under_the_mount(cookie, kept_as):
    assert cookie_in_mount(cookie, mount="/ea/dash", base="/base") == kept_as


def frame(payload: bytes, *, masked: bool = False) -> bytes:
    size = len(payload)
    if size < 126:
        header = bytes([0x81, size | (0x80 if masked else 0)])
    elif size < 65536:
        header = bytes([0x81, 126 | (0x80 if masked else 0)]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x82, 127 | (0x80 if masked else 0)]) + size.to_bytes(8, "big")
    return header + (b"mask" if masked else b"") + payload


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 200_000])
def test_frame_ends_are_found_for_every_length_form(size):
    ends = FrameEnds()
    data = frame(b"x" * size) + frame(b"next")
    assert ends.advance(data, stop_at_end=True) == len(frame(b"x" * size))


def test_frame_ends_are_counted_across_pieces_cut_anywhere():
    stream = frame(b"a" * 300) + frame(b"b" * 70_000, masked=True) + frame(b"c")
    ends = FrameEnds()
    for start in range(0, len(stream), 7):
        ends.advance(stream[start : start + 7])
    assert ends.at_end


def test_a_piece_ending_inside_a_frame_is_not_at_an_end():
    ends = FrameEnds()
    whole = frame(b"z" * 1000)
    ends.advance(whole[:500])
    assert (ends.at_end, ends.advance(whole[500:] + frame(b"y"), stop_at_end=True)) == (
        False,
        len(whole) - 500,
    )
