"""Where the portal and each product are served: one origin for all, or a host for each.

**Path mode** (the default, nothing to set up): the portal and every product share one origin,
`https://portal.example.org/<tier>/<name>/`. The Gate decides on the server, but in the browser
every product's script runs with the visiting user's rights on the whole origin: it can read a
page of the admin console and post to it, as JupyterHub documents for its single-domain mode.

**Host mode** (`PORTAL_HOST_DOMAIN=portal.example.org`): the portal's own pages stay on
`portal.example.org`, and each product is served on a host of its own,
`<name>--<tier>.portal.example.org`, at the same path as in path mode (so a product's prefix
never changes). Each host has its own host-only session cookie (`__Host-` on https), handed over
from the portal host with a one-time code, so a script on one host can neither read nor set
anything of another's. One wildcard DNS name and one wildcard certificate cover every product.

A product's name may hold `_`, which host names can't; in its host it is written `-`, which
product names can't hold, so a host always names exactly one product.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from werkzeug.wsgi import get_host

from auth.tiers import TIER_NAMES

#: `__Host-` cookies must be Secure, have `Path=/` and no `Domain`: browsers refuse any other, so
#: neither a sibling host nor a script with another path can plant one.
SECURE_COOKIE_NAME = "__Host-portal_session"
PLAIN_COOKIE_NAME = "portal_session"
SEPARATOR = "--"
#: The request's host, normalized: worked out once per request (see `Origins.request_host`).
HOST_ENVIRON_KEY = "portal.host"


@lru_cache(maxsize=1024)
def normalize_host(host: str, scheme: str) -> str:
    """Lowercase, no trailing dot, no default port: the form hosts are compared in."""
    host = host.strip().lower()
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    if not name:
        name, port = host, ""
    name = name.rstrip(".")
    default = {"http": "80", "https": "443"}.get(scheme)
    return name if not port or port == default else f"{name}:{port}"


@dataclass(frozen=True)
class Origins:
    scheme: str
    portal_host: str
    #: `host[:port]` whose subdomains serve the products; empty in path mode.
    domain: str = ""

    @classmethod
    def from_settings(cls, base_url: str, host_domain: str) -> Origins:
        parts = urlsplit(base_url)
        scheme = parts.scheme
        domain = normalize_host(host_domain, scheme) if host_domain else ""
        return cls(scheme, normalize_host(parts.netloc, scheme), domain)

    @property
    def host_mode(self) -> bool:
        return bool(self.domain)

    @property
    def https(self) -> bool:
        return self.scheme == "https"

    @property
    def portal_origin(self) -> str:
        return f"{self.scheme}://{self.portal_host}"

    @property
    def cookie_name(self) -> str:
        return SECURE_COOKIE_NAME if self.https else PLAIN_COOKIE_NAME

    def product_host(self, key: str) -> str:
        tier, name = key.split("/", 1)
        hostname, colon, port = self.domain.partition(":")
        return f"{name.replace('_', '-')}{SEPARATOR}{tier}.{hostname}{colon}{port}"

    def product_origin(self, key: str) -> str:
        """Where the product's pages come from: its own host, or the portal's in path mode."""
        if not self.host_mode:
            return self.portal_origin
        return f"{self.scheme}://{self.product_host(key)}"

    def product_url(self, key: str, rest: str = "/") -> str:
        """A link to a product page from anywhere: absolute in host mode, a path otherwise."""
        path = f"/{key}{rest}"
        return self.product_origin(key) + path if self.host_mode else path

    def product_at(self, host: str) -> str | None:
        """The `tier/name` whose host this is, if it is one (host mode only)."""
        if not self.host_mode:
            return None
        host = normalize_host(host, self.scheme)
        hostname, colon, port = self.domain.partition(":")
        suffix = f".{hostname}{colon}{port}"
        if not host.endswith(suffix):
            return None
        label = host[: -len(suffix)]
        name, separator, tier = label.rpartition(SEPARATOR)
        if not separator or tier not in TIER_NAMES or not name or "." in label:
            return None
        name = name.replace("-", "_")
        return f"{tier}/{name}" if name.isidentifier() else None

    def request_host(self, environ: dict) -> str:
        """The request's host as hosts are compared: the router, the identity cache and the
        Gate's answers all ask, so it is worked out once and kept in the environ."""
        host = environ.get(HOST_ENVIRON_KEY)
        if host is None:
            host = environ[HOST_ENVIRON_KEY] = normalize_host(get_host(environ), self.scheme)
        return host

    def is_portal_host(self, host: str) -> bool:
        return normalize_host(host, self.scheme) == self.portal_host
