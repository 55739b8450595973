"""Request headers that some proxy, platform or framework reads as "who is this": removed before
a product sees the request, because any client can send them.

A product behind the portal learns who is calling from the WSGI environ alone. But products are
often written for another front door (oauth2-proxy, Authelia, a cloud load balancer), and read
that door's headers; a client that sends them straight to the portal must not become that user.
The list is maintained here, one pattern per family, with where it comes from; matching is on
the WSGI names (`HTTP_` + upper case, `-` as `_`), case-insensitively as HTTP header names are.
"""

from __future__ import annotations

import re
from fnmatch import translate

IDENTITY_HEADER_PATTERNS: tuple[tuple[str, str], ...] = (
    ("REMOTE_USER", "CGI and WSGI's own user variable"),
    ("HTTP_X_PORTAL_*", "this portal's own identity headers (set for process products)"),
    ("HTTP_REMOTE_*", "Authelia, Authentik, Caddy forward_auth: Remote-User, -Email, -Groups"),
    ("HTTP_X_REMOTE_*", "Apache and nginx setups: X-Remote-User, X-Remote-Groups"),
    ("HTTP_X_FORWARDED_*USER*", "oauth2-proxy, Traefik: X-Forwarded-User, -Preferred-Username"),
    ("HTTP_X_FORWARDED_*EMAIL*", "oauth2-proxy: X-Forwarded-Email"),
    ("HTTP_X_FORWARDED_*GROUP*", "oauth2-proxy: X-Forwarded-Groups"),
    ("HTTP_X_FORWARDED_ACCESS_TOKEN", "oauth2-proxy: X-Forwarded-Access-Token"),
    ("HTTP_X_AUTH_*", "oauth2-proxy's X-Auth-Request-*, and X-Auth-User and alike"),
    ("HTTP_X_USER*", "X-User, X-User-Id, X-Username"),
    ("HTTP_X_EMAIL", "X-Email"),
    ("HTTP_X_TIER", "a tier claimed by the client"),
    ("HTTP_X_GROUPS", "X-Groups"),
    ("HTTP_X_ROLES", "X-Roles"),
    ("HTTP_X_WEBAUTH_*", "Grafana's auth proxy: X-Webauth-User"),
    ("HTTP_X_AUTHENTICATED_*", "X-Authenticated-User, -Userid (Istio, some ingresses)"),
    ("HTTP_X_ACCESS_TOKEN", "X-Access-Token"),
    ("HTTP_X_ID_TOKEN", "X-Id-Token"),
    ("HTTP_X_MS_CLIENT_PRINCIPAL*", "Azure App Service authentication"),
    ("HTTP_X_MS_TOKEN_*", "Azure App Service token store"),
    ("HTTP_X_GOOG_AUTHENTICATED_USER_*", "Google Cloud IAP"),
    ("HTTP_X_GOOG_IAP_JWT_ASSERTION", "Google Cloud IAP"),
    ("HTTP_X_AMZN_OIDC_*", "AWS Application Load Balancer authentication"),
    ("HTTP_CF_ACCESS_*", "Cloudflare Access"),
    ("HTTP_X_POMERIUM_*", "Pomerium"),
    ("HTTP_TAILSCALE_USER_*", "Tailscale serve"),
    ("HTTP_X_SSL_CLIENT_*", "client certificates forwarded by a TLS proxy"),
    ("HTTP_SSL_CLIENT_*", "client certificates forwarded by a TLS proxy"),
)

#: One expression for every pattern, and the patterns' fixed beginnings: the Gate looks at every
#: environ key of every request, and most keys (`wsgi.*`, `HTTP_HOST`, ...) start with none of
#: them, which `str.startswith` tells without the expression.
_MATCH = re.compile("|".join(translate(pattern) for pattern, _ in IDENTITY_HEADER_PATTERNS)).match
_PREFIXES = tuple(sorted({pattern.split("*", 1)[0] for pattern, _ in IDENTITY_HEADER_PATTERNS}))


def is_identity_header(key: str) -> bool:
    return _MATCH(key.upper()) is not None


def strip_identity_headers(environ: dict) -> None:
    for key in [k for k in environ if k.startswith(_PREFIXES) and _MATCH(k) is not None]:
        del environ[key]
