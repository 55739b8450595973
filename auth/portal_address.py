"""Whether a product's server is the portal itself: an `upstream` or `command` that names the
address the portal listens on.

The portal's proxy connects from loopback, and the portal trusts loopback for `/metrics`; a
product whose server is the portal would hand every visitor of the product the portal's own
pages as the proxy sees them. So product.toml may not name the portal's bind address or its
base URL's host and port; loopback names, wildcard binds and this machine's name all count as
the portal's host when the port is the portal's.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

from auth.product_kinds import UNIX_PREFIX

#: A port inside a command line (`:8000` not followed by more of a host name), and the host
#: right before it: a name, an IPv4 address or a bracketed IPv6 one.
_PORT = re.compile(r":([0-9]{1,5})(?![0-9A-Za-z.-])")
_HOST_BEFORE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)$")
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})  # noqa: S104 (compared, never bound)


def refuse_the_portal(upstream: str, command: str, own: Collection[str]) -> None:
    """ValueError when the product's `upstream` or `command` names one of `own` addresses."""
    for field, value in (("upstream", upstream), ("command", command)):
        named = value and portal_address_named(value, own, command=field == "command")
        if named:
            raise ValueError(
                f"{field} {value!r} names the portal's own address ({named}): a product's "
                "server must be a server of its own, not the portal"
            )


def portal_address_named(served: str, own: Collection[str], *, command: bool = False) -> str:
    """The portal's own address that `served` (an upstream URL, or a command line) names, or ""."""
    candidates = _in_command(served) if command else [_in_upstream(served)]
    for candidate in candidates:
        for address in own:
            if _same(candidate, address):
                return address
    return ""


def _in_upstream(upstream: str) -> str:
    if upstream.startswith(UNIX_PREFIX):
        return upstream
    parts = urlsplit(upstream)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _in_command(command: str) -> list[str]:
    found = []
    for port in _PORT.finditer(command):
        host = _HOST_BEFORE.search(command, 0, port.start())
        if host is not None:
            found.append(f"{host.group(1)}:{port.group(1)}")
    found += [UNIX_PREFIX + word for word in command.split() if word.startswith("/")]
    return found


def _same(candidate: str, own: str) -> bool:
    if own.startswith(UNIX_PREFIX) or candidate.startswith(UNIX_PREFIX):
        return candidate.removeprefix(UNIX_PREFIX) == own.removeprefix(UNIX_PREFIX)
    host, _, port = candidate.rpartition(":")
    own_host, _, own_port = own.rpartition(":")
    if port != own_port:
        return False
    host, own_host = _bare(host), _bare(own_host)
    return host == own_host or (_local(host) and _local(own_host))


def _bare(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


def _local(host: str) -> bool:
    """Loopback, a wildcard, or this machine's own name: the machine the portal runs on."""
    if host in _WILDCARDS or host == "localhost" or host.endswith(".localhost"):
        return True
    if host == socket.gethostname().lower():
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback or (mapped or address).is_unspecified
