"""`*.localhost` names for this test process, as browsers resolve them: to loopback.

Host mode gives every product a host of its own (`hello--stable.localhost:<port>` in tests).
Chromium resolves any `*.localhost` to loopback by itself; Python asks the system resolver,
which here knows `localhost` alone. The tests' own HTTP and websocket clients get the same
answer as the browser through this patch of `socket.getaddrinfo`, made once for the session.
"""

from __future__ import annotations

import socket

_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.lower().rstrip(".").endswith(".localhost"):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


def resolve_localhost_subdomains() -> None:
    socket.getaddrinfo = _getaddrinfo
