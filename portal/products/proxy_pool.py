"""Connections to a product's server: one urllib3 pool per server in each worker.

urllib3 keeps connections alive between requests, so a proxied request costs no TCP handshake,
and streams bodies both ways without holding them. `unix:/path` servers go through the same
pool with a connection that dials the socket instead of a host; everything else of urllib3 (HTTP
parsing, timeouts, keep-alive checks) is unchanged.

A kept-alive connection can be closed by the server just as a request goes out on it (its idle
timeout ended); the request then fails without a byte of answer. The proxy sends such a request
again when that is safe (`portal.products.proxy`), and `fresh()` makes sure the second try goes
out on a new connection rather than on another idle one the server may be closing too.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.connection import HTTPConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from auth.product_kinds import UNIX_PREFIX

#: Connections kept open per server and worker. More requests at once still go through, on
#: connections that are closed afterwards.
POOL_SIZE = 32
#: Connecting never waits longer than this, however long the product's `timeout` is: a server
#: that is up accepts at once, and a request for a page should not sit behind a dead address.
MAX_CONNECT_SECONDS = 10.0


#: Set while a request must go out on a new connection; per thread and per greenlet.
_FRESH: ContextVar[bool] = ContextVar("portal_proxy_fresh", default=False)


@contextlib.contextmanager
def fresh() -> Iterator[None]:
    """Requests made inside the block open a new connection instead of taking an idle one."""
    token = _FRESH.set(True)
    try:
        yield
    finally:
        _FRESH.reset(token)


class _FreshWhenAsked:
    """A pool that hands out a new connection inside `fresh()`; it goes back to the pool after
    the request like any other."""

    def _get_conn(self, timeout: float | None = None) -> HTTPConnection:
        if _FRESH.get():
            return self._new_conn()  # type: ignore[attr-defined]
        return super()._get_conn(timeout)  # type: ignore[misc]


class Pool(_FreshWhenAsked, HTTPConnectionPool):
    pass


class SecurePool(_FreshWhenAsked, HTTPSConnectionPool):
    pass


class UnixConnection(HTTPConnection):
    """An HTTP connection to a unix socket; `host` is only what the request line's URL says."""

    def __init__(self, *args: Any, socket_path: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.socket_path = socket_path

    def _new_conn(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if isinstance(self.timeout, int | float):
            sock.settimeout(self.timeout)
        path = self.socket_path
        try:
            sock.connect(path)
        except TimeoutError as error:
            sock.close()
            raise ConnectTimeoutError(self, f"connecting to {path} timed out") from error
        except OSError as error:
            sock.close()
            raise NewConnectionError(self, f"cannot connect to {path}: {error}") from error
        return sock


class UnixConnectionPool(_FreshWhenAsked, HTTPConnectionPool):
    ConnectionCls = UnixConnection


def timeout_for(seconds: float) -> Timeout:
    """`seconds` to wait for each read (the answer's start, then every next piece of it)."""
    return Timeout(connect=min(seconds, MAX_CONNECT_SECONDS), read=seconds)


def pool_for(upstream: str, seconds: float) -> HTTPConnectionPool:
    """A pool for `http://host:port[/base]`, `https://...` or `unix:/path`. urllib3 retries
    nothing and follows no redirect: the client decides both, as it would talking to the server
    (the one request the proxy sends again, it sends itself)."""
    options: dict[str, Any] = {
        "maxsize": POOL_SIZE,
        "block": False,
        "timeout": timeout_for(seconds),
        "retries": False,
    }
    if upstream.startswith(UNIX_PREFIX):
        return UnixConnectionPool("localhost", socket_path=upstream[len(UNIX_PREFIX) :], **options)
    parts = urlsplit(upstream)
    if parts.scheme == "https":
        return SecurePool(parts.hostname, parts.port, **options)
    return Pool(parts.hostname, parts.port, **options)


def base_path(upstream: str) -> str:
    """What goes in front of every request path: `/base` for `http://h:8050/base`."""
    if upstream.startswith(UNIX_PREFIX):
        return ""
    return urlsplit(upstream).path.rstrip("/")
