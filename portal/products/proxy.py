"""The mount of a product that runs as a server of its own: a streaming proxy behind its Gate.

`ProxyApp` is a WSGI app like any product, so the Gate in front of it decides who gets through
exactly as for an in-process product. What it passes on goes to the product's server through a
urllib3 pool (see `portal.products.proxy_pool`) and comes back piece by piece: a request body
is read from the client as the server takes it (chunked uploads too), and an answer is handed to
the client as each piece arrives (`read1`), so a 200 MB download or upload costs the worker a
few buffers, and server-sent events and long polls reach the browser as they are sent.

The server gets the path below the mount (the mount itself is in `X-Forwarded-Prefix`), the
portal's identity headers (`auth.identity_token`) and none the client sent. When it can't be
reached the client gets a 502 naming the product; when it doesn't answer within the product's
`timeout`, a 504; never a request that hangs. Websocket upgrades are relayed byte for byte
(`portal.products.proxy_websocket`).

A request that went out on a kept-alive connection the server had just closed fails before a
byte of answer arrives. As nginx and Envoy do, such a request is sent once more, on a new
connection, when sending it twice can do no harm: an idempotent method (RFC 9110, 9.2.2) and no
body (a body streamed from the client is gone once sent). A POST or PATCH is never sent twice:
it gets the 502.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import IO
from urllib.parse import quote

from urllib3 import BaseHTTPResponse, HTTPConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError
from urllib3.exceptions import TimeoutError as UpstreamTimeout
from urllib3.util import SKIP_HEADER
from werkzeug.wsgi import get_input_stream

from auth.identity import LOGOUT_TOKEN_ENVIRON_KEY, USER_ENVIRON_KEY, ProductInfo
from auth.identity_token import IdentityTokens
from auth.responses import (
    ErrorPage,
    ErrorRenderer,
    html_response,
    is_websocket,
    json_response,
    wants_json,
)
from auth.tiers import Tier
from portal.products.process_state import ProcessState, State
from portal.products.proxy_headers import request_headers, response_headers
from portal.products.proxy_pool import base_path, fresh, pool_for
from portal.products.proxy_websocket import relay
from portal.products.upstream_health import HealthMonitor, check_health, down, failure

log = logging.getLogger(__name__)

#: The most read from either side at once: a few of these per request is all a worker holds.
CHUNK_BYTES = 64 * 1024
#: What WSGI's PATH_INFO (decoded) may hold unencoded in the path the server gets.
_PATH_SAFE = "/:@!$&'()*+,;=~"


#: Methods whose request may be sent twice (RFC 9110, 9.2.2), when it has no body.
REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

_ERROR_CODES = {400: "bad_request", 502: "bad_gateway", 503: "starting", 504: "gateway_timeout"}


class UpstreamBroke(ConnectionError):
    """The server stopped answering in the middle of an answer already begun: the client's
    connection is dropped so it sees a cut answer, not a complete-looking short one."""


class ProxyApp:
    """The product at `upstream` (`http(s)://host:port[/base]` or `unix:/path`), or at whatever
    `upstream()` answers now (a process the portal runs gets a new port when it restarts; an
    empty answer means it is not listening yet)."""

    def __init__(
        self,
        product: ProductInfo,
        upstream: str | Callable[[], str],
        *,
        tokens: IdentityTokens,
        pages: ErrorRenderer,
        health: HealthMonitor | None = None,
    ) -> None:
        self.product = product
        self._upstream = upstream if callable(upstream) else (lambda: upstream)
        self.tokens = tokens
        self.pages = pages
        self.health = health
        self._pools: dict[str, HTTPConnectionPool] = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def pool(self, upstream: str) -> HTTPConnectionPool:
        """This worker's pool for the server; a pool made before a fork is not shared with the
        forked worker, and a server that moved gets a new one."""
        with self._lock:
            if self._pid != os.getpid():
                self._pools, self._pid = {}, os.getpid()
            pool = self._pools.get(upstream)
            if pool is None:
                for stale in self._pools.values():
                    stale.close()
                pool = self._pools[upstream] = pool_for(upstream, self.product.timeout)
        return pool

    def check_health(self) -> ProcessState:
        upstream = self._upstream()
        if not upstream:
            return ProcessState(State.STARTING)
        return check_health(self.pool(upstream), self.product, upstream)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        upstream = self._upstream()
        if not upstream:
            return self.failed(environ, start_response, 503, "not listening yet")
        if is_websocket(environ):
            return relay(self, upstream, environ, start_response)
        length = environ.get("CONTENT_LENGTH", "")
        if length and not length.isdigit():
            message = f"Content-Length must be a number of bytes, got {length[:40]!r}."
            return self.failed(environ, start_response, 400, message)
        method = environ["REQUEST_METHOD"]
        headers = self.headers_for(environ)
        body, chunked = _request_body(environ, headers)
        send = partial(
            self.pool(upstream).urlopen,
            method,
            self.target(upstream, environ),
            body=body,
            headers=_as_sent(headers),
            chunked=chunked,
            preload_content=False,
            decode_content=False,
            redirect=False,
            retries=False,
            assert_same_host=False,
            release_conn=False,
        )
        try:
            try:
                answer = send()
            except ProtocolError:  # closed before a byte of answer: see the module's docstring
                if body is not None or method not in REPLAYABLE_METHODS:
                    raise
                with fresh():
                    answer = send()
        except HTTPError as error:
            return self.unreachable(environ, start_response, error)
        if self.health is not None and not self.health.state().serving:
            self.health.report(ProcessState(State.UP, address=upstream))
        mount = environ.get("SCRIPT_NAME", "")
        host = environ.get("HTTP_HOST", "")
        start_response(
            f"{answer.status} {answer.reason or ''}".rstrip(),
            response_headers(answer.headers.items(), mount=mount, upstream=upstream, host=host),
        )
        return Streamed(answer, self.product.key)

    def unreachable(
        self, environ: dict, start_response: Callable, error: Exception
    ) -> Iterable[bytes]:
        """504 when the server took too long, 502 when it refused or broke the connection
        (urllib3's refusal is a kind of connect timeout, so it is told apart first)."""
        if isinstance(error, UpstreamTimeout) and not isinstance(error, NewConnectionError):
            return self.failed(environ, start_response, 504, f"no answer within {self.timeout}")
        return self.failed(environ, start_response, 502, failure(error))

    @property
    def timeout(self) -> str:
        return f"{self.product.timeout:g} s"

    def headers_for(self, environ: dict, *, websocket: bool = False) -> list[tuple[str, str]]:
        """The request's headers as the server gets them, with who is calling."""
        headers = request_headers(environ, websocket=websocket)
        user = environ.get(USER_ENVIRON_KEY)
        if user is not None:
            headers += self.tokens.identity_headers(user, self.product)
        return headers

    @staticmethod
    def target(upstream: str, environ: dict) -> str:
        """The path below the mount (under the server's base path), and the query."""
        path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe=_PATH_SAFE) or "/"
        query = environ.get("QUERY_STRING", "")
        return base_path(upstream) + path + (f"?{query}" if query else "")

    def failed(
        self, environ: dict, start_response: Callable, status: int, detail: str
    ) -> Iterable[bytes]:
        """400 (a request no server could take), 502 (unreachable), 503 (not started yet) or 504
        (too slow), in the portal's frame for browsers and as JSON for API clients; devel and
        admin users see what went wrong."""
        title, key = self.product.title, self.product.key
        if status == 400:
            page = ErrorPage(400, "This request can't be passed on", detail)
        elif status == 504:
            log.warning("product %s did not answer within %s", key, self.timeout)
            page = ErrorPage(
                504,
                f"{title} is taking too long",
                f"{key} did not answer within {self.timeout}. Try again in a moment; the rest "
                "of the portal works as usual.",
            )
        elif status == 503:
            page = ErrorPage(
                503,
                f"{title} is starting",
                f"{key} is not listening yet. Try again in a few seconds.",
            )
        else:
            log.warning("product %s is unreachable: %s", key, detail)
            if self.health is not None:
                self.health.report(down(self._upstream(), detail))
            page = ErrorPage(
                502,
                f"{title} is not answering",
                f"{key} could not be reached, so this page can't be shown. Try again in a "
                "moment; the rest of the portal works as usual.",
            )
        user = environ.get(USER_ENVIRON_KEY)
        extra = [("Retry-After", "5")] if status == 503 else None
        if wants_json(environ):
            payload = {
                "error": _ERROR_CODES[status],
                "message": page.message,
                "product": key,
            }
            return json_response(start_response, status, payload, extra)
        insider = user is not None and user.tier.opens(Tier.DEVEL)
        page = ErrorPage(
            page.status,
            page.heading,
            page.message,
            details=detail if insider and status != 400 else None,
            action_url=self.pages.dashboard_url,
            action_label="Back to your dashboard",
        )
        body = self.pages(page, user=user, logout_token=environ.get(LOGOUT_TOKEN_ENVIRON_KEY))
        return html_response(start_response, status, body, extra)


class Streamed:
    """An answer's body as it arrives; closing it early (the client left) drops the connection
    to the server instead of reading the rest."""

    def __init__(self, answer: BaseHTTPResponse, key: str) -> None:
        self.answer = answer
        self.key = key
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self.answer.read1(CHUNK_BYTES):
                yield chunk
        except (HTTPError, OSError) as error:
            log.warning("product %s broke off its answer: %s", self.key, failure(error))
            raise UpstreamBroke(f"{self.key} broke off its answer") from None
        self._done = True

    def close(self) -> None:
        if not self._done:
            self.answer.close()
        self.answer.release_conn()


def _request_body(
    environ: dict, headers: list[tuple[str, str]]
) -> tuple[Iterator[bytes] | None, bool]:
    """The body to stream on, and whether it goes chunked (the client sent it so: its length is
    not known before it ends)."""
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return _chunks(get_input_stream(environ, safe_fallback=False)), True
    length = environ.get("CONTENT_LENGTH", "")
    if not length:
        return None, False
    headers.append(("Content-Length", length))
    return _chunks(get_input_stream(environ)), False


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


def _as_sent(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The headers for urllib3 (each name once: the WSGI environ holds each once), without the
    `User-Agent` urllib3 would add for a client that sent none."""
    sent = dict(headers)
    sent.setdefault("User-Agent", SKIP_HEADER)
    return sent
