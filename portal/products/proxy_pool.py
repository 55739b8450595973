"""Connections to a product's server: one urllib3 pool per server in each worker.

urllib3 keeps connections alive between requests, so a proxied request costs no TCP handshake,
and streams bodies both ways without holding them. `unix:/path` servers go through the same
pool with a connection that dials the socket instead of a host; everything else of urllib3 (HTTP
parsing, timeouts, keep-alive checks) is unchanged.
"""

from __future__ import annotations

import socket
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


class UnixConnectionPool(HTTPConnectionPool):
    ConnectionCls = UnixConnection


def timeout_for(seconds: float) -> Timeout:
    """`seconds` to wait for each read (the answer's start, then every next piece of it)."""
    return Timeout(connect=min(seconds, MAX_CONNECT_SECONDS), read=seconds)


def pool_for(upstream: str, seconds: float) -> HTTPConnectionPool:
    """A pool for `http://host:port[/base]`, `https://...` or `unix:/path`. Nothing is retried
    and no redirect is followed: the client decides both, as it would talking to the server."""
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
        return HTTPSConnectionPool(parts.hostname, parts.port, **options)
    return HTTPConnectionPool(parts.hostname, parts.port, **options)


def base_path(upstream: str) -> str:
    """What goes in front of every request path: `/base` for `http://h:8050/base`."""
    if upstream.startswith(UNIX_PREFIX):
        return ""
    return urlsplit(upstream).path.rstrip("/")
