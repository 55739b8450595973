"""Every URL the portal sends a browser to is built and checked here, and only here is a
`Location` header written.

A redirect is the one answer whose header carries text the request chose (a path, a query, a
`next`). Two things go wrong when it is written loosely: a decoded CR/LF ends the header and
starts another (`Set-Cookie: ...` on the victim's browser), and a decoded `#`, `?` or `\\`
inside what was meant as a host label turns `http://<label>--stable.<domain>/` into another
site. So a target is never pasted together: a path is percent-encoded from its decoded bytes, a
query keeps its escapes and loses anything else, and the host is the portal's own, the host of
a product mounted now, or an origin the settings name (the identity provider). Anything else is
not sent: the browser gets a 404 instead, and the log says which URL was refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from werkzeug.wrappers import Response

from auth.hosts import Origins

log = logging.getLogger(__name__)

#: RFC 3986 `pchar` and `/`: what may stand in a path as it is; everything else is %XX-encoded.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
#: A query from the request is already encoded: its escapes and separators stay.
QUERY_SAFE = PATH_SAFE + "?%"
_NO_STORE = ("Cache-Control", "no-store")


def encoded_path(path_info: str) -> str:
    """A decoded WSGI path (bytes as latin-1) as a URL path: `#`, `?`, `\\`, `%`, spaces and
    control characters encoded, and never `//` at the start (a protocol-relative URL)."""
    path = quote(path_info.encode("latin-1", "replace"), safe=PATH_SAFE)
    return "/" + path.lstrip("/")


def encoded_query(query_string: str) -> str:
    """A WSGI QUERY_STRING (still percent-encoded) with anything outside a query's characters
    encoded: a raw `#`, space or control character can't end the URL or the header."""
    return quote(query_string.encode("latin-1", "replace"), safe=QUERY_SAFE)


def encoded_target(target: str) -> str:
    """An already-encoded path and query (a `next`) with anything a URL can't hold encoded."""
    path, mark, query = target.partition("?")
    path = quote(path.encode("utf-8", "replace"), safe=PATH_SAFE + "%")
    return "/" + path.lstrip("/") + (mark + encoded_query(query) if mark else "")


def _printable(url: str) -> bool:
    return all(0x21 <= ord(ch) <= 0x7E for ch in url) and "\\" not in url


def _never(_key: str) -> bool:
    return False


@dataclass(frozen=True)
class Locations:
    """Where the portal may send a browser: `origins` names the portal's host and, in host
    mode, how products' hosts are named; `mounted` says whether a `tier/name` is served now;
    `elsewhere` are whole origins the settings name (the identity provider's)."""

    origins: Origins | None = None
    mounted: Callable[[str], bool] = _never
    elsewhere: frozenset[str] = field(default_factory=frozenset)

    # Building

    def here(self, path_info: str, query_string: str = "") -> str:
        """The same host, another path: relative."""
        query = encoded_query(query_string)
        return encoded_path(path_info) + (f"?{query}" if query else "")

    def portal(self, path_info: str, query_string: str = "") -> str:
        """A page of the portal's, on the portal's host (absolute)."""
        assert self.origins is not None
        return self.origins.portal_origin + self.here(path_info, query_string)

    def product(self, key: str, rest: str = "/", query_string: str = "") -> str | None:
        """A page of a mounted product: on its own host in host mode, a path otherwise; None
        when no product is mounted at `key`."""
        if self.origins is None or not self.mounted(key):
            return None
        relative = self.here(f"/{key}{rest}", query_string)
        return self.origins.product_origin(key) + relative if self.origins.host_mode else relative

    # Checking and sending

    def allows(self, url: str) -> bool:
        """A relative path on this host, or an absolute URL on a host the portal answers for."""
        if not _printable(url):
            return False
        if url.startswith("/"):
            return not url.startswith("//")
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin in self.elsewhere:
            return True
        if self.origins is None or parts.scheme != self.origins.scheme or "@" in parts.netloc:
            return False
        if origin == self.origins.portal_origin:
            return True
        key = self.origins.product_at(parts.netloc)
        return key is not None and origin == self.origins.product_origin(key) and self.mounted(key)

    def redirect(
        self,
        start_response: Callable,
        status: str,
        url: str,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Iterable[bytes]:
        """A WSGI redirect to `url`, if it is one the portal may send; else a 404."""
        if not self.allows(url):
            return self._refused(start_response, url)
        headers = [("Location", url), ("Content-Length", "0"), _NO_STORE, *extra]
        start_response(status, headers)
        return [b""]

    def response(self, url: str, code: int = 302) -> Response:
        """The same for the portal's Flask views."""
        if not self.allows(url):
            log.warning("refused to redirect to %r", url)
            return Response("Not Found", 404, [_NO_STORE], mimetype="text/plain")
        response = Response("", code, [_NO_STORE])
        response.headers["Location"] = url
        response.autocorrect_location_header = False
        return response

    def _refused(self, start_response: Callable, url: str) -> Iterable[bytes]:
        log.warning("refused to redirect to %r", url)
        start_response(
            "404 Not Found",
            [("Content-Type", "text/plain"), ("Content-Length", "9"), _NO_STORE],
        )
        return [b"Not Found"]
