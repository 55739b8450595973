"""Forward auth: `/auth/check` decides for products that nginx (`auth_request`), Traefik
(`ForwardAuth`) or Caddy (`forward_auth`) serve themselves.

Before passing a request on, the proxy asks the portal about it, naming the request it holds:
nginx in headers its configuration sets (X-Original-URI, X-Original-Method, X-Forwarded-Host),
Traefik and Caddy in X-Forwarded-Uri, -Method, -Host and -Proto. The cookies and Authorization
of the request it holds come along. The portal decides as it does for a product it serves: that
request runs through the host router and the mount table to the product's own Gate, where a
stand-in takes the product's place (`portal.products.serving`). Every rule of routing and of the
Gate applies as it is - tiers, grants, blocks, bearer scopes, websocket origins, hosts in host
mode, moved products - because there is no second copy of them here.

Reaching the stand-in means allowed: 200 with the identity headers for the product. Anything
else is the Gate's (or the router's) own answer, which Traefik and Caddy pass to the browser as
it is: the sign-in redirect, the 403 page, the cleared cookie of a blocked user. nginx takes only
2xx, 401 and 403 from `auth_request` (anything else becomes a 500), so for it - a check naming
X-Original-URI - a sign-in redirect becomes 401 with the address in X-Portal-Sign-In, and every
other refusal 403 with its reason in X-Portal-Refusal; 5xx stay 5xx.

The proxy routes by the path as it normalizes it (percent-decoded, dot segments resolved, slashes
merged), so the decision is made on that path too; a path whose product changes under that
normalization is refused, whichever way the proxy reads it. Answers carry X-Accel-Expires: the
identity cache's lifetime, so nginx may keep them that long (keyed by the session cookie and the
request) and a block or a lowered tier still applies within seconds.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

from auth.identity import PRODUCT_ENVIRON_KEY, USER_ENVIRON_KEY, PortalUser, ProductInfo
from auth.refusals import SIGN_IN_HEADER
from auth.responses import json_response
from portal.forward_auth_sources import LOOPBACK, CheckSources
from portal.products.paths import product_key_in
from portal.products.serving import STAND_IN_ENVIRON_KEY
from portal.routing import ProductMounts

FORWARD_AUTH_PATH = "/auth/check"
REFUSAL_HEADER = "X-Portal-Refusal"
MAX_URI_LENGTH = 8192
IdentityHeaders = Callable[[PortalUser, ProductInfo], list[tuple[str, str]]]

_METHOD = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,32}$")
_HOST = re.compile(r"^(?:[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
#: Request-target characters: visible ASCII and raw bytes above it (nginx passes them on).
_URI_REFUSED = re.compile(r"[\x00-\x20\x7f]")
#: What the check request says about the request it checks, not about itself: never copied.
_ABOUT_THE_ORIGINAL = ("HTTP_X_ORIGINAL_", "HTTP_X_FORWARDED_", "HTTP_FORWARDED", "HTTP_HOST")
#: What the check request carries over: its headers, the server's and client's addresses and
#: WSGI's own keys (its body and anything of the server's connection stay behind).
_KEPT = ("HTTP_", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "wsgi.")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Set in the request's environ by the stand-in: the Gate let it through.
_REACHED = "portal.forward_auth.reached"


class BadCheck(ValueError):
    """The check request does not say which request to decide on: 400, with the reason."""


@dataclass(frozen=True)
class Original:
    """The request the proxy holds, as the check names it."""

    method: str
    scheme: str
    host: str
    raw_uri: str
    path: str
    query: str
    #: nginx asks with X-Original-URI, and takes only 2xx, 401 and 403 for an answer.
    strict: bool


class ForwardAuth:
    """WSGI middleware answering `/auth/check` on any host (proxies address the portal by an
    internal name) to the proxies `sources` allows; every other request goes on to `app`, the
    host router."""

    def __init__(
        self,
        app: Callable,
        mounts: ProductMounts,
        identity_headers: IdentityHeaders,
        cache_seconds: float,
        sources: CheckSources | None = None,
    ) -> None:
        self.app = app
        self.sources = sources or CheckSources(LOOPBACK, ())
        self.mounts = mounts
        self.identity_headers = identity_headers
        self.cache = [("X-Accel-Expires", str(max(0, math.floor(cache_seconds))))]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != FORWARD_AUTH_PATH:
            return self.app(environ, start_response)
        refused = self.sources.refuse(environ, start_response)
        if refused is not None:
            return refused
        try:
            original = read_original(environ)
        except BadCheck as error:
            payload = {"error": "bad_forward_auth_request", "message": str(error)}
            return json_response(start_response, 400, payload)
        return self.check(environ, start_response, original)

    def check(self, environ: dict, start_response: Callable, original: Original) -> Iterable[bytes]:
        key = product_key_in(original.path)
        if key is None or not _same_product(original, key):
            reason = "not_a_product" if key is None else "ambiguous_path"
            message = (
                f"{original.raw_uri!r} is not a product's address"
                if key is None
                else f"{original.raw_uri!r} names another product once normalized"
            )
            return self._not_found(start_response, original, reason, message)
        if not self._mounted(key):
            return self._not_found(
                start_response, original, "unknown_product", f"no product is mounted at /{key}/"
            )
        request = original_environ(environ, original)
        answer = _Captured.run(self.app, request)
        if request.get(_REACHED):
            return self._allowed(start_response, request)
        if original.strict:
            return self._for_nginx(start_response, answer)
        start_response(answer.status, answer.headers)
        return [answer.body]

    def _mounted(self, key: str) -> bool:
        watcher = self.mounts.watcher
        if watcher.mounted(f"/{key}") is None:
            watcher.look_for(f"/{key}")
        return watcher.mounted(f"/{key}") is not None

    def _allowed(self, start_response: Callable, request: dict) -> Iterable[bytes]:
        user, product = request[USER_ENVIRON_KEY], request[PRODUCT_ENVIRON_KEY]
        headers = [
            *self.cache,
            ("Cache-Control", "no-store"),
            ("Content-Length", "0"),
            *self.identity_headers(user, product),
        ]
        start_response("200 OK", headers)
        return [b""]

    def _for_nginx(self, start_response: Callable, answer: _Captured) -> Iterable[bytes]:
        """Only 401 and 403 refuse for nginx: the sign-in redirect becomes 401 naming where to
        go, every other refusal 403 saying why. Errors of the portal's own stay what they are."""
        status = answer.code
        if status >= 500:
            start_response(answer.status, answer.headers)
            return [answer.body]
        extra: list[tuple[str, str]] = []
        if status == 302:
            sign_in = answer.header(SIGN_IN_HEADER) or answer.header("Location")
            status, extra = 401, [(SIGN_IN_HEADER, sign_in)]
        elif status == 401:
            extra = [("WWW-Authenticate", answer.header("WWW-Authenticate"))]
        elif status != 403:
            reason = "redirected" if status in _REDIRECTS else _reason(status)
            status, extra = 403, [(REFUSAL_HEADER, reason)]
        payload = {"error": "unauthenticated" if status == 401 else "forbidden"}
        return self._decided(start_response, status, payload, [h for h in extra if h[1]])

    def _not_found(
        self, start_response: Callable, original: Original, reason: str, message: str
    ) -> Iterable[bytes]:
        payload = {"error": reason, "message": message}
        if original.strict:
            return self._decided(start_response, 403, payload, [(REFUSAL_HEADER, reason)])
        return json_response(start_response, 404, payload)

    def _decided(
        self, start_response: Callable, status: int, payload: dict, extra: list
    ) -> Iterable[bytes]:
        """A decision nginx may keep: X-Accel-Expires comes before Cache-Control, which nginx
        (before 1.23) would otherwise obey and not cache at all."""
        body = json.dumps(payload).encode()
        headers = [
            *self.cache,
            ("Cache-Control", "no-store"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *extra,
        ]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]


def read_original(environ: dict) -> Original:
    """The request the check is about, from the headers nginx, Traefik and Caddy send; BadCheck
    when they are missing or malformed."""
    nginx_uri = environ.get("HTTP_X_ORIGINAL_URI")
    forwarded_uri = environ.get("HTTP_X_FORWARDED_URI")
    # A proxy that sets one name passes the client's other one through untouched (Caddy and
    # Traefik forward every request header to the check): two names that disagree mean a client
    # is naming a product it was not sent to.
    if None not in (nginx_uri, forwarded_uri) and nginx_uri != forwarded_uri:
        raise BadCheck("X-Original-URI and X-Forwarded-Uri name different requests")
    raw_uri = nginx_uri if nginx_uri is not None else forwarded_uri
    if not raw_uri:
        raise BadCheck("the check must name the request: X-Original-URI or X-Forwarded-Uri")
    if len(raw_uri) > MAX_URI_LENGTH or not raw_uri.startswith("/") or _URI_REFUSED.search(raw_uri):
        raise BadCheck("X-Original-URI / X-Forwarded-Uri must be a path and query, 8 KiB at most")
    nginx_method = environ.get("HTTP_X_ORIGINAL_METHOD")
    forwarded_method = environ.get("HTTP_X_FORWARDED_METHOD")
    if None not in (nginx_method, forwarded_method) and nginx_method != forwarded_method:
        raise BadCheck("X-Original-Method and X-Forwarded-Method name different methods")
    method = nginx_method or forwarded_method or environ.get("REQUEST_METHOD", "GET")
    if not _METHOD.match(method):
        raise BadCheck("X-Original-Method / X-Forwarded-Method must be an HTTP method")
    scheme = _last(environ.get("HTTP_X_FORWARDED_PROTO")) or environ.get("wsgi.url_scheme", "http")
    if scheme not in ("http", "https"):
        raise BadCheck("X-Forwarded-Proto must be http or https")
    host = _last(environ.get("HTTP_X_FORWARDED_HOST")) or environ.get("HTTP_HOST", "")
    if not _HOST.match(host):
        raise BadCheck("X-Forwarded-Host (or Host) must name the host the request was sent to")
    raw_path, _, query = raw_uri.partition("?")
    path = normalized_path(raw_path)
    if path is None:
        raise BadCheck("the path holds an encoded NUL")
    return Original(method, scheme, host, raw_uri, path, query, strict=nginx_uri is not None)


def normalized_path(raw_path: str) -> str | None:
    """The path as proxies route by it: percent-decoded (as WSGI carries it, bytes in latin-1),
    dot segments resolved, repeated slashes merged; None when it hides a NUL."""
    decoded = unquote_to_bytes(raw_path.encode("latin-1")).decode("latin-1")
    if "\x00" in decoded:
        return None
    parts = decoded.split("/")
    kept: list[str] = []
    for part in parts[1:-1]:
        if part == "..":
            if kept:
                kept.pop()
        elif part not in ("", "."):
            kept.append(part)
    last = parts[-1]
    if last in (".", ".."):
        if last == ".." and kept:
            kept.pop()
        last = ""
    return "/" + "/".join([*kept, last])


def _same_product(original: Original, key: str) -> bool:
    """The product is the same however the path is read: as sent, decoded, and normalized."""
    raw_path = original.raw_uri.partition("?")[0]
    decoded = unquote_to_bytes(raw_path.encode("latin-1")).decode("latin-1")
    return product_key_in(raw_path) == product_key_in(decoded) == key


def original_environ(environ: dict, original: Original) -> dict:
    """The held request as WSGI would carry it: the check's own headers (cookies, Authorization,
    Accept, Origin, Upgrade) with the method, host, scheme and path it names, and no body. An
    upgrade counts as one when only Sec-WebSocket-Key came along (proxies drop hop-by-hop
    Upgrade before asking), so the Gate checks its Origin."""
    request = {
        key: value
        for key, value in environ.items()
        if key.startswith(_KEPT) and not key.startswith(_ABOUT_THE_ORIGINAL)
    }
    if "HTTP_SEC_WEBSOCKET_KEY" in request and "HTTP_UPGRADE" not in request:
        request["HTTP_UPGRADE"] = "websocket"
    request.update(
        {
            "REQUEST_METHOD": original.method,
            "HTTP_HOST": original.host,
            "wsgi.url_scheme": original.scheme,
            "wsgi.input": io.BytesIO(b""),
            "SCRIPT_NAME": "",
            "PATH_INFO": original.path,
            "QUERY_STRING": original.query,
            "RAW_URI": original.raw_uri,
            "REQUEST_URI": original.raw_uri,
            "CONTENT_LENGTH": "0",
            STAND_IN_ENVIRON_KEY: _stand_in,
        }
    )
    return request


def _stand_in(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Where the product would be: reaching it is the Gate's "allowed"."""
    environ[_REACHED] = True
    start_response("204 No Content", [])
    return [b""]


@dataclass
class _Captured:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    def header(self, name: str) -> str:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), "")

    @classmethod
    def run(cls, app: Callable, environ: dict) -> _Captured:
        started: dict = {}

        def start_response(status: str, headers: list, exc_info: object = None) -> Callable:
            started.update(status=status, headers=list(headers))
            return lambda data: None

        answer = app(environ, start_response)
        try:
            body = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        return cls(started["status"], started["headers"], body)


def _last(value: str | None) -> str:
    """The value the nearest proxy set, when a header was appended to along the way."""
    return value.rsplit(",", 1)[-1].strip() if value else ""


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_")
    except ValueError:
        return str(status)
