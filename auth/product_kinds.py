"""The three kinds of product and the product.toml fields that choose between them.

A product is a Python package imported into the portal (the default), a `command` the portal
runs as a process of its own, or an `upstream` server someone else runs. The last two are
reached through the portal's proxy, so they need no Python package, and two more fields tune
that: the `health` path the portal asks to know the server answers, and the `timeout` after
which a request that got no answer is given up (504). A `command` product's `[liveness]` says
how often its running process is asked and after how many failed answers it is restarted.

The keys themselves are read and checked by the schema in `auth.product_toml`; what is here is
what the kinds mean and the checks of a command line, an upstream and a health path.
"""

from __future__ import annotations

import shlex
import string
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

#: Placeholders a `command` may use: where it listens (`{port}` or `{socket}`, exactly one)
#: and the path it is mounted at (`{prefix}`, e.g. "/ea/dash").
COMMAND_PLACEHOLDERS = frozenset({"port", "socket", "prefix"})
#: An upstream on a unix socket: `unix:` followed by the socket's absolute path.
UNIX_PREFIX = "unix:"
DEFAULT_HEALTH = "/"
#: Seconds without an answer (connecting, or between two reads) before a request is given up.
#: Long enough for long polls and server-sent events with the usual keep-alive comments.
DEFAULT_TIMEOUT = 60.0
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 3600.0
#: `[liveness]`: how often the supervisor asks a running process's health path, how long it
#: waits for each answer, and after how many failures in a row it restarts the process.
#: With these a hung process is restarted within failures x (interval + timeout) = 24 s.
DEFAULT_LIVENESS_INTERVAL = 5.0
DEFAULT_LIVENESS_TIMEOUT = 3.0
DEFAULT_LIVENESS_FAILURES = 3


class ProductKind(StrEnum):
    WSGI = "wsgi"
    PROCESS = "process"
    UPSTREAM = "upstream"


@dataclass(frozen=True)
class Liveness:
    """How a running process product's health is watched (`[liveness]` in product.toml)."""

    interval: float = DEFAULT_LIVENESS_INTERVAL
    timeout: float = DEFAULT_LIVENESS_TIMEOUT
    failures: int = DEFAULT_LIVENESS_FAILURES

    @property
    def bound(self) -> float:
        """The longest a process may stop answering before it is marked unhealthy."""
        return self.failures * (self.interval + self.timeout)

    def describe(self) -> str:
        return f"every {self.interval:g} s, {self.timeout:g} s each, {self.failures} to fail"


DEFAULT_LIVENESS = Liveness()


def check_command(command: str) -> str:
    """A command line with `{port}` or `{socket}` (where it must listen) and optionally
    `{prefix}`; `{{` and `}}` stand for literal braces."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(command) if name is not None}
        shlex.split(command)
    except ValueError as error:
        raise ValueError(f"command {command!r} does not parse: {error}") from None
    unknown = sorted(fields - COMMAND_PLACEHOLDERS)
    if unknown:
        raise ValueError(
            f"command has unknown placeholders {', '.join('{' + f + '}' for f in unknown)}; "
            "it may use {port} or {socket}, and {prefix} (write {{ and }} for literal braces)"
        )
    listens = fields & {"port", "socket"}
    if len(listens) != 1:
        raise ValueError(
            "command must contain exactly one of {port} and {socket}: where the portal tells "
            "it to listen"
        )
    return command


def check_upstream(upstream: str) -> str:
    """`http://host:port[/base]`, `https://...` or `unix:/absolute/path.sock`; returned
    without a trailing slash, so a request path is appended as it is."""
    if upstream.startswith(UNIX_PREFIX):
        path = upstream[len(UNIX_PREFIX) :]
        if not path.startswith("/") or "\0" in path:
            raise ValueError(
                f"upstream {upstream!r}: a unix socket is written unix:/absolute/path.sock"
            )
        return upstream
    try:
        parts = urlsplit(upstream)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"upstream {upstream!r} is not a URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"upstream {upstream!r} must be an http:// or https:// URL with a host, "
            "or unix:/absolute/path.sock"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError("upstream must not hold credentials; product.toml is not a secret")
    if parts.query or parts.fragment:
        raise ValueError(f"upstream {upstream!r} must not have a query or a fragment")
    if port == 0:
        raise ValueError(f"upstream {upstream!r}: port 0 is not a port a server listens on")
    return upstream.rstrip("/")


def check_health(health: str) -> str:
    """A path on the product's own server (with an optional query), such as `/healthz`."""
    health = health.strip()
    parts = urlsplit(health)
    if (
        not health.startswith("/")
        or health.startswith("//")
        or parts.scheme
        or parts.fragment
        or any(c.isspace() or ord(c) < 32 for c in health)
    ):
        raise ValueError(
            f"health must be a path on the product's server starting with /, got {health!r}"
        )
    return health
