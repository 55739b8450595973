"""The headers the portal's proxy sends to a product's server and back to the client.

Both ways, hop-by-hop headers (RFC 9110 section 7.6.1: `Connection` and every header it names,
`Keep-Alive`, `Transfer-Encoding`, `TE`, `Trailer`, `Upgrade`, `Proxy-*`) describe one
connection, not the message, so they stop at the portal. Towards the server the portal states
where the request came from (`X-Forwarded-For`, `-Proto`, `-Host`, and `-Prefix`: the mount, which
a prefix-aware framework puts in front of every URL it makes); whatever a client sent under those
names is dropped first, as are identity headers (the Gate already removed them from the environ;
the portal adds its own). The client's `Host` goes through unchanged, so a server that checks
`Origin` against `Host` (websockets, CSRF) sees the two agree.

Back towards the client, a server that does not know its prefix still works: a `Location` or a
cookie `Path` that points at the server's own root is moved under the mount.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from auth.identity_headers import is_identity_header
from portal.products.proxy_pool import base_path

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: What a client may not tell the server about the request's way in: the portal says it.
_CLIENT_FORWARDING = frozenset({"forwarded", "x-real-ip", "expect"})
#: The portal's own server writes these for every answer; a second copy would contradict it.
_SERVER_WRITES = frozenset({"date", "server"})


def request_headers(environ: dict, *, websocket: bool = False) -> list[tuple[str, str]]:
    """The client's headers as the server gets them, with the portal's `X-Forwarded-*`.

    For a websocket upgrade `Connection: Upgrade` and `Upgrade: websocket` are kept: there they
    are what the request asks for."""
    named = _connection_names(environ.get("HTTP_CONNECTION", ""))
    headers = []
    for key, value in environ.items():
        if not key.startswith("HTTP_") or is_identity_header(key):
            continue
        name = key[5:].replace("_", "-").lower()
        if name in HOP_BY_HOP or name in named or name in _CLIENT_FORWARDING:
            continue
        if name.startswith("x-forwarded-") or (name == "cookie" and not value):
            continue
        headers.append((_title(name), value))
    if environ.get("CONTENT_TYPE"):
        headers.append(("Content-Type", environ["CONTENT_TYPE"]))
    if websocket:
        headers += [("Connection", "Upgrade"), ("Upgrade", environ.get("HTTP_UPGRADE", ""))]
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    headers += [
        ("X-Forwarded-For", environ.get("REMOTE_ADDR", "")),
        ("X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")),
        ("X-Forwarded-Host", host),
        ("X-Forwarded-Prefix", environ.get("SCRIPT_NAME", "")),
    ]
    return headers


def response_headers(
    headers: Iterable[tuple[str, str]], *, mount: str, upstream: str, host: str
) -> list[tuple[str, str]]:
    """The server's headers as the client gets them: no hop-by-hop ones, redirects and cookie
    paths kept under the mount (`upstream` is the server's base URL, `host` the request's)."""
    pairs = list(headers)
    named = set()
    for name, value in pairs:
        if name.lower() == "connection":
            named |= _connection_names(value)
    kept = []
    for name, value in pairs:
        lowered = name.lower()
        if lowered in HOP_BY_HOP or lowered in named or lowered in _SERVER_WRITES:
            continue
        if lowered == "location":
            value = location_in_mount(value, mount=mount, upstream=upstream, host=host)
        elif lowered == "set-cookie":
            value = cookie_in_mount(value, mount=mount, base=base_path(upstream))
        kept.append((name, value))
    return kept


def location_in_mount(location: str, *, mount: str, upstream: str, host: str) -> str:
    """A redirect to the server itself as the client must follow it: under the mount. That is a
    path from the server's root, a URL on the server's own address, or one on the request's
    host (built from the `Host` it was given). Redirects elsewhere, relative ones, and paths
    already under the mount (a prefix-aware server) are left alone."""
    parts = urlsplit(location)
    base = base_path(upstream)
    if not parts.scheme and not parts.netloc:
        if not location.startswith("/"):
            return location
        return _in_mount(location, mount, base)
    if not parts.scheme:
        return location
    rest = location[len(f"{parts.scheme}://{parts.netloc}") :]
    target = urlsplit(upstream)
    if (parts.scheme, parts.netloc) == (target.scheme, target.netloc):
        return _in_mount(rest or "/", mount, base)
    if parts.netloc == host:
        return f"{parts.scheme}://{parts.netloc}{_in_mount(rest or '/', mount, base)}"
    return location


def cookie_in_mount(header: str, *, mount: str, base: str = "") -> str:
    """A `Set-Cookie` whose `Path` is the server's (from its own root) moved under the mount;
    no `Path` or `Path=/` is left for the Gate, which scopes it to the mount."""
    parts = header.split(";")
    for index, part in enumerate(parts[1:], start=1):
        key, _, value = part.partition("=")
        if key.strip().lower() == "path":
            path = value.strip()
            if path.startswith("/") and path != "/" and _in_mount(path, mount, base) != path:
                parts[index] = f" Path={_in_mount(path, mount, base)}"
    return ";".join(parts)


def _in_mount(path: str, mount: str, base: str) -> str:
    if path == mount or path.startswith((mount + "/", mount + "?", mount + "#")):
        return path
    if base and (path == base or path.startswith((base + "/", base + "?", base + "#"))):
        path = path[len(base) :] or "/"
    if path.startswith(("?", "#")):
        path = "/" + path
    return mount + path


def _connection_names(value: str) -> set[str]:
    return {name.strip().lower() for name in value.split(",") if name.strip()}


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
