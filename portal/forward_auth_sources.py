"""Who may ask `/auth/check`: the proxies the operator runs, never a browser.

The check answers with the visitor's signed identity for a product, so a script on a product's
page that could call it would read a token naming its visitor. Two rules keep it for proxies:

- **Where from.** The connection must come from `PORTAL_FORWARD_AUTH_SOURCES` (default
  loopback). That is the address the connection came from, before any `X-Forwarded-For` is
  believed (`PORTAL_TRUSTED_PROXIES`): a client can name any address there.
- **Not a browser's own request.** A proxy asks on behalf of a request it holds and passes that
  request's headers on, so its check may carry a browser's cookies, `Origin` and `Sec-Fetch-*`;
  but it addresses the portal by an internal name (nginx `proxy_set_header Host $proxy_host`,
  Traefik's `address`, Caddy `header_up Host {upstream_hostport}`). A browser can only address
  the portal by the hosts it serves to browsers, and sends `Sec-Fetch-*` with every request
  (scripts cannot remove it). A check carrying fetch metadata to one of those hosts is a
  browser's own request to `/auth/check`: refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from werkzeug.wsgi import host_is_trusted

from auth.responses import json_response

LOOPBACK = ("127.0.0.0/8", "::1/128")
#: What werkzeug's ProxyFix keeps of the request as it arrived.
_AS_ARRIVED = "werkzeug.proxy_fix.orig"
_FETCH_METADATA = ("HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_MODE", "HTTP_SEC_FETCH_DEST")


class CheckSources:
    """`allowed`: the proxies' networks; `public_hosts`: the hosts browsers reach the site by
    (werkzeug's form, a leading dot for subdomains)."""

    def __init__(self, allowed: Iterable[str], public_hosts: Iterable[str]) -> None:
        self.allowed = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in allowed)
        self.public_hosts = list(public_hosts)

    def refusal(self, environ: dict) -> dict | None:
        """The 403's JSON body when the check may not be answered, else None."""
        arrived = environ.get(_AS_ARRIVED) or environ
        peer = arrived.get("REMOTE_ADDR", "")
        if not self._allowed(peer):
            return {
                "error": "forward_auth_source",
                "message": (
                    f"/auth/check answers only the proxies in PORTAL_FORWARD_AUTH_SOURCES; "
                    f"{peer or 'this client'} is not one of them."
                ),
            }
        host = arrived.get("HTTP_HOST", "")
        browsing = any(environ.get(key) for key in _FETCH_METADATA)
        if browsing and host and host_is_trusted(host, self.public_hosts):
            return {
                "error": "forward_auth_browser",
                "message": (
                    "/auth/check is a question for the proxy in front of a product, not for a "
                    "browser; a proxy asks it by an internal name for the portal "
                    "(nginx: proxy_set_header Host $proxy_host)."
                ),
            }
        return None

    def refuse(self, environ: dict, start_response: Callable) -> Iterable[bytes] | None:
        """A 403 answer when the check may not be answered, else None."""
        refusal = self.refusal(environ)
        return None if refusal is None else json_response(start_response, 403, refusal)

    def _allowed(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        mapped = getattr(address, "ipv4_mapped", None) or address
        return any(mapped in network for network in self.allowed)
