"""Request headers that some proxy, platform or framework reads as "who is this": removed before
a product sees the request, because any client can send them.

A product behind the portal learns who is calling from the WSGI environ alone. But products are
often written for another front door (oauth2-proxy, authentik, Kong, mod_auth_openidc,
Shibboleth, a cloud load balancer, a TLS proxy passing on a client certificate), and read that
door's headers; a client that sends them straight to the portal must not become that user.

`IDENTITY_HEADERS` is the one maintained table, a family per front door: the Gate and the proxy
strip by it, the identity headers reference is made from it, and the tests send every example it
holds.
Patterns are header names with `*` globs, matched as WSGI carries them (`HTTP_` + upper case,
`-` and `_` alike), so `Oidc-Claim-Email` and `OIDC_CLAIM_email` are one header here, as they
are to the servers that read them. A site adds its own names with `PORTAL_IDENTITY_HEADERS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import translate


@dataclass(frozen=True)
class HeaderFamily:
    """One front door's identity headers: the patterns stripped, and real names they cover."""

    source: str
    patterns: tuple[str, ...]
    examples: tuple[str, ...]


IDENTITY_HEADERS: tuple[HeaderFamily, ...] = (
    HeaderFamily("this portal's own headers", ("X-Portal-*",), ("X-Portal-User", "X-Portal-Tier")),
    HeaderFamily(
        "Authelia, Caddy forward_auth",
        ("Remote-*",),
        ("Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name"),
    ),
    HeaderFamily("Apache and nginx setups", ("X-Remote-*",), ("X-Remote-User", "X-Remote-Groups")),
    HeaderFamily(
        "oauth2-proxy, Traefik, Gitea and alike",
        (
            "X-Forwarded-*User*",
            "X-Forwarded-*Email*",
            "X-Forwarded-*Group*",
            "X-Forwarded-Access-Token",
            "X-Forwarded-Login",
        ),
        (
            "X-Forwarded-User",
            "X-Forwarded-Email",
            "X-Forwarded-Groups",
            "X-Forwarded-Preferred-Username",
            "X-Forwarded-Access-Token",
            "X-Forwarded-Login",
        ),
    ),
    HeaderFamily(
        "oauth2-proxy's auth request headers, X-Auth-User and alike",
        ("X-Auth-*",),
        ("X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Access-Token"),
    ),
    HeaderFamily(
        "generic user headers",
        (
            "X-User*",
            "X-Email",
            "X-Tier",
            "X-Groups",
            "X-Roles",
            "X-Proxy-User",
            "X-Original-User",
            "X-Preferred-Username",
            "Auth-User",
        ),
        (
            "X-User",
            "X-Username",
            "X-Email",
            "X-Tier",
            "X-Proxy-User",
            "X-Original-User",
            "X-Preferred-Username",
            "Auth-User",
        ),
    ),
    HeaderFamily("Grafana's auth proxy", ("X-Webauth-*",), ("X-Webauth-User",)),
    HeaderFamily("Istio and some ingresses", ("X-Authenticated-*",), ("X-Authenticated-User",)),
    HeaderFamily(
        "token headers", ("X-Access-Token", "X-Id-Token"), ("X-Access-Token", "X-Id-Token")
    ),
    HeaderFamily(
        "authentik",
        ("X-Authentik-*",),
        ("X-Authentik-Username", "X-Authentik-Groups", "X-Authentik-Email", "X-Authentik-Jwt"),
    ),
    HeaderFamily("Vouch Proxy", ("X-Vouch-*",), ("X-Vouch-User", "X-Vouch-Idp-Claims-Email")),
    HeaderFamily(
        "Kong",
        ("X-Consumer-*", "X-Credential-*", "X-Anonymous-Consumer"),
        ("X-Consumer-Username", "X-Consumer-Custom-Id", "X-Credential-Identifier"),
    ),
    HeaderFamily(
        "mod_auth_openidc",
        ("Oidc-*",),
        ("Oidc-Claim-Email", "Oidc-Access-Token"),
    ),
    HeaderFamily("WSO2 API Manager", ("X-Jwt-Assertion*",), ("X-Jwt-Assertion",)),
    HeaderFamily("Teleport application access", ("Teleport-*",), ("Teleport-Jwt-Assertion",)),
    HeaderFamily(
        "Kubernetes impersonation",
        ("Impersonate-*",),
        ("Impersonate-User", "Impersonate-Group", "Impersonate-Uid"),
    ),
    HeaderFamily(
        "Shibboleth",
        (
            "Shib-*",
            "Eppn",
            "Affiliation",
            "Unscoped-Affiliation",
            "Entitlement",
            "Persistent-Id",
            "Targeted-Id",
        ),
        ("Shib-Identity-Provider", "Shib-Session-Id", "Eppn", "Persistent-Id"),
    ),
    HeaderFamily(
        "client certificates passed on by a TLS proxy (Envoy, nginx, IIS ARR, Traefik, AWS)",
        (
            "X-Forwarded-Client-Cert",
            "X-Forwarded-Tls-Client-Cert*",
            "X-Client-Cert*",
            "X-Client-Dn",
            "X-Client-Verify",
            "X-Arr-Clientcert",
            "X-Ssl-Client-*",
            "Ssl-Client-*",
            "X-Ssl-Cert",
            "X-Amzn-Mtls-Clientcert*",
        ),
        (
            "X-Forwarded-Client-Cert",
            "X-Forwarded-Tls-Client-Cert",
            "X-Client-Cert",
            "X-Client-Dn",
            "X-Arr-Clientcert",
            "X-Ssl-Client-Dn",
            "Ssl-Client-Cert",
        ),
    ),
    HeaderFamily(
        "Google Cloud IAP",
        ("X-Iap-*", "X-Goog-Authenticated-User-*", "X-Goog-Iap-Jwt-Assertion"),
        ("X-Iap-User", "X-Goog-Authenticated-User-Email", "X-Goog-Iap-Jwt-Assertion"),
    ),
    HeaderFamily(
        "Azure App Service",
        ("X-Ms-Client-Principal*", "X-Ms-Token-*"),
        ("X-Ms-Client-Principal-Name", "X-Ms-Token-Aad-Id-Token"),
    ),
    HeaderFamily("AWS Application Load Balancer", ("X-Amzn-Oidc-*",), ("X-Amzn-Oidc-Identity",)),
    HeaderFamily("Cloudflare Access", ("Cf-Access-*",), ("Cf-Access-Authenticated-User-Email",)),
    HeaderFamily("Pomerium", ("X-Pomerium-*",), ("X-Pomerium-Claim-Email",)),
    HeaderFamily("Tailscale serve", ("Tailscale-User-*",), ("Tailscale-User-Login",)),
)

#: CGI and WSGI's own user variable: not a header, but a server sets it and products read it.
REMOTE_USER = "REMOTE_USER"


def wsgi_name(header: str) -> str:
    """A header name (or pattern) as WSGI carries it: `X-Vouch-User` -> `HTTP_X_VOUCH_USER`."""
    return "HTTP_" + header.upper().replace("-", "_")


def check_header_pattern(pattern: str) -> str:
    """A header name with optional `*` globs; ValueError for anything else (and for a bare `*`,
    which would strip every header)."""
    if not re.fullmatch(r"[A-Za-z0-9*][A-Za-z0-9_*-]*", pattern) or not pattern.strip("*-_"):
        raise ValueError(
            f"{pattern!r} is not a header name: letters, digits, '-' and '_', with '*' globs "
            "(and more than '*' alone)"
        )
    return pattern


class IdentityHeaders:
    """The table's patterns and a site's own, matched on WSGI names."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        patterns = [p for family in IDENTITY_HEADERS for p in family.patterns]
        patterns += [check_header_pattern(p) for p in extra]
        names = [REMOTE_USER, *(wsgi_name(p) for p in patterns)]
        self._match = re.compile("|".join(translate(name) for name in names)).match
        #: The patterns' fixed beginnings: the Gate looks at every environ key of every request,
        #: and most keys (`wsgi.*`, `HTTP_HOST`, ...) start with none of them, which
        #: `str.startswith` tells without the expression.
        self._prefixes = tuple(sorted({name.split("*", 1)[0] for name in names}))

    def matches(self, key: str) -> bool:
        return self._match(key.upper()) is not None

    def strip(self, environ: dict) -> None:
        for key in [k for k in environ if k.startswith(self._prefixes) and self._match(k)]:
            del environ[key]


#: The table alone, for code that runs without the site's settings (and the site's default).
DEFAULT = IdentityHeaders()


def is_identity_header(key: str) -> bool:
    return DEFAULT.matches(key)


def strip_identity_headers(environ: dict) -> None:
    DEFAULT.strip(environ)
