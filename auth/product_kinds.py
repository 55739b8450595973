"""The three kinds of product and the product.toml fields that choose between them.

A product is a Python package imported into the portal (the default), a `command` the portal
runs as a process of its own, or an `upstream` server someone else runs. The last two are
reached through the portal's proxy, so they need no Python package, and two more fields tune
that: the `health` path the portal asks to know the server answers, and the `timeout` after
which a request that got no answer is given up (504). A `command` product's `[liveness]` says
how often its running process is asked and after how many failed answers it is restarted.

Everything is checked when the folder is read, with a ValueError naming the field, so a typo
shows as a broken product in `portal apps` rather than as a proxy that fails on every request.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Mapping
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
_LIVENESS_SECONDS = (0.1, 3600.0)
_LIVENESS_FAILURES = (1, 100)


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


@dataclass(frozen=True)
class ServedBy:
    """How the portal reaches a product's server, as product.toml says."""

    command: str = ""
    upstream: str = ""
    health: str = DEFAULT_HEALTH
    timeout: float = DEFAULT_TIMEOUT
    liveness: Liveness = DEFAULT_LIVENESS


def process_fields(data: Mapping[str, object]) -> ServedBy:
    """`command`, `upstream`, `health` and `timeout` from product.toml, checked and normalised."""
    command = _text(data, "command")
    upstream = _text(data, "upstream")
    if command and upstream:
        raise ValueError(
            "command and upstream exclude each other: the portal either runs the server "
            "(command) or fronts one that runs elsewhere (upstream)"
        )
    proxied = bool(command or upstream)
    for key in ("health", "timeout"):
        if key in data and not proxied:
            raise ValueError(f"{key} applies only to a product with a command or an upstream")
    if "liveness" in data and not command:
        raise ValueError(
            "liveness applies only to a product with a command: the portal restarts only "
            "processes it runs"
        )
    return ServedBy(
        command=check_command(command) if command else "",
        upstream=check_upstream(upstream) if upstream else "",
        health=check_health(data.get("health", DEFAULT_HEALTH)),
        timeout=check_timeout(data.get("timeout", DEFAULT_TIMEOUT)),
        liveness=check_liveness(data.get("liveness", {})),
    )


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value.strip()


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


def check_health(health: object) -> str:
    """A path on the product's own server (with an optional query), such as `/healthz`."""
    if not isinstance(health, str):
        raise ValueError("health must be a string: a path such as /healthz")
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


def check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError("timeout must be a number of seconds")
    if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise ValueError(
            f"timeout must be between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds, got {timeout:g}"
        )
    return float(timeout)


def check_liveness(table: object) -> Liveness:
    """`[liveness]`: `interval` and `timeout` in seconds, `failures` a whole number."""
    if not isinstance(table, Mapping):
        raise ValueError("liveness must be a table: [liveness] with interval, timeout, failures")
    unknown = sorted(set(table) - {"interval", "timeout", "failures"})
    if unknown:
        raise ValueError(
            f"liveness has unknown keys {', '.join(unknown)}; it takes interval, timeout "
            "and failures"
        )
    low, high = _LIVENESS_SECONDS
    seconds = {}
    for key, default in (
        ("interval", DEFAULT_LIVENESS_INTERVAL),
        ("timeout", DEFAULT_LIVENESS_TIMEOUT),
    ):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"liveness.{key} must be a number of seconds")
        if not low <= value <= high:
            raise ValueError(
                f"liveness.{key} must be between {low:g} and {high:g} seconds, got {value:g}"
            )
        seconds[key] = float(value)
    failures = table.get("failures", DEFAULT_LIVENESS_FAILURES)
    least, most = _LIVENESS_FAILURES
    if isinstance(failures, bool) or not isinstance(failures, int):
        raise ValueError("liveness.failures must be a whole number of checks")
    if not least <= failures <= most:
        raise ValueError(f"liveness.failures must be between {least} and {most}, got {failures}")
    return Liveness(seconds["interval"], seconds["timeout"], failures)
