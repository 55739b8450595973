"""`auth.locations`: the one place that builds and writes the URLs the portal sends browsers to."""

from __future__ import annotations

import re

import pytest

from auth.hosts import Origins
from auth.locations import Locations, encoded_path, encoded_query, encoded_target
from portal.config import PROJECT_ROOT

pytestmark = pytest.mark.unit

ORIGINS = Origins.from_settings("https://portal.example.org", "portal.example.org")
LOCATIONS = Locations(ORIGINS, lambda key: key in {"stable/hello", "admin/manage"})
#: Where the portal's own code lives (products, the development provider and tests are not it).
PORTAL_CODE = ("auth", "portal", "kit", "db", "directory")
#: A `("Location", ...)` header, `headers["Location"] = ...`, or Flask's or werkzeug's redirect().
WRITES_LOCATION = re.compile(
    r"""\(\s*["']Location["']\s*,|\[["']Location["']\]\s*=|(?<![.\w])redirect\("""
    r"""|import[^\n]*\bredirect\b"""
)


def test_no_module_but_auth_locations_writes_a_location_header():
    writers = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for folder in PORTAL_CODE
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        if WRITES_LOCATION.search(path.read_text())
    )
    assert writers == ["auth/locations.py"]


@pytest.mark.parametrize(
    ("path_info", "encoded"),
    [
        ("/stable/hello/", "/stable/hello/"),
        ("/stable/evil.com#/", "/stable/evil.com%23/"),
        ("/stable/evil.com?/", "/stable/evil.com%3F/"),
        ("/stable/evil.com\\/", "/stable/evil.com%5C/"),
        ("/a\r\nSet-Cookie: x=1", "/a%0D%0ASet-Cookie:%20x=1"),
        ("/a\x00b", "/a%00b"),
        ("/a%0d", "/a%250d"),
        ("//evil.com/", "/evil.com/"),
        ("///evil.com/", "/evil.com/"),
        ("/@evil.com", "/@evil.com"),
        ("/caf\xc3\xa9", "/caf%C3%A9"),
    ],
)
def test_a_decoded_path_is_encoded_and_never_protocol_relative(path_info, encoded):
    assert encoded_path(path_info) == encoded


@pytest.mark.parametrize(
    ("query", "encoded"),
    [
        ("a=1&b=%2F", "a=1&b=%2F"),
        ("a=#x", "a=%23x"),
        ("a=b c", "a=b%20c"),
        ("a=\r\n", "a=%0D%0A"),
        ("a=\\", "a=%5C"),
    ],
)
def test_a_query_keeps_its_escapes_and_loses_anything_else(query, encoded):
    assert encoded_query(query) == encoded


@pytest.mark.parametrize(
    ("target", "encoded"),
    [
        ("/stable/hello/?x=1", "/stable/hello/?x=1"),
        ("/stable/evil.com%23/", "/stable/evil.com%23/"),
        ("/stable/evil.com#/", "/stable/evil.com%23/"),
        ("/a b", "/a%20b"),
        ("//evil.com", "/evil.com"),
    ],
)
def test_an_encoded_target_stays_a_path(target, encoded):
    assert encoded_target(target) == encoded


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/stable/hello/?x=1",
        "https://portal.example.org/login?next=%2F",
        "https://hello--stable.portal.example.org/stable/hello/",
        "https://manage--admin.portal.example.org/admin/manage/",
    ],
)
def test_the_portal_and_mounted_products_hosts_are_allowed(url):
    assert LOCATIONS.allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "//evil.com/",
        "/\\evil.com/",
        "\\\\evil.com",
        "https://evil.com/",
        "http://portal.example.org/",
        "https://portal.example.org@evil.com/",
        "https://evil.com#--stable.portal.example.org/",
        "https://evil--stable.portal.example.org/",
        "https://hello--stable.portal.example.org.evil.com/",
        "https://x.hello--stable.portal.example.org/",
        "/a\r\nSet-Cookie: x=1",
        "/a b",
        "/a\x00",
        "javascript:alert(1)",
        "",
    ],
)
def test_anything_else_is_refused(url):
    assert not LOCATIONS.allows(url)


def test_a_product_url_is_made_only_for_a_mounted_product():
    assert LOCATIONS.product("stable/hello", "/a#b", "x=1") == (
        "https://hello--stable.portal.example.org/stable/hello/a%23b?x=1"
    )
    assert LOCATIONS.product("stable/evil.com#", "/") is None


def test_a_refused_url_is_answered_404_and_never_sent():
    started = {}
    body = LOCATIONS.redirect(
        lambda status, headers: started.update(status=status, headers=headers),
        "302 Found",
        "https://evil.com/",
    )
    assert started["status"] == "404 Not Found"
    assert "Location" not in dict(started["headers"])
    assert b"".join(body) == b"Not Found"
