"""The Gate: WSGI middleware that enforces a product's tier before the product sees anything.

It wraps the whole product app, so every route is covered: `add_url_rule`, blueprints, static
files, error pages, websocket upgrades and apps that are not Flask at all. Identity reaches the
product only through the WSGI environ; request headers that look like identity are removed first,
because any client can send them. The portal's own session cookie is removed too, in both
directions: a product (or its debug page, or its logs) never holds a credential that opens the
products above it, and cannot plant one in the browser.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from typing import Protocol
from urllib.parse import quote, urlencode

from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wsgi import get_host

from auth.bearer import BearerError, IssuerKeysUnavailable
from auth.cookies import (
    PORTAL_COOKIE_NAMES,
    TamperedCookies,
    cleared_session_cookie,
    product_cookie_name,
    scoped_cookie,
    stray_copies_cleared,
)
from auth.handoff import handoff_start_url
from auth.hosts import Origins, normalize_host
from auth.identity import (
    AUTH_METHOD_ENVIRON_KEY,
    LOGOUT_TOKEN_ENVIRON_KEY,
    MOUNT_ENVIRON_KEY,
    PRODUCT_ENVIRON_KEY,
    SOCKET_GUARD_ENVIRON_KEY,
    USER_ENVIRON_KEY,
    PortalUser,
    ProductInfo,
    TokenNotOffered,
)
from auth.identity_headers import strip_identity_headers
from auth.log_context import note
from auth.metrics import GATE_DECISIONS
from auth.resolver import Identity, IdentityResolver
from auth.responses import html_response, json_response
from auth.sessions import EndReason
from auth.sockets import SocketRegistry
from auth.tiers import Tier
from auth.user_tokens import UserTokens

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
#: Headers that would let a product answer credentialed requests from other origins.
_CORS_HEADERS = frozenset(
    {
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-expose-headers",
    }
)
_FOREIGN_ORIGIN = {
    "error": "forbidden_origin",
    "message": "Websocket connections are accepted only from the product's own pages.",
}
TAMPERED = (
    "This request carried more than one sign-in cookie for this site: a page (possibly a "
    "product's script) set another one. It was not used, and the extra ones have been removed; "
    "reload the page."
)


_BEARER_REQUEST_REASON = (
    "it came with a bearer token, and the portal gets product tokens only from a browser "
    "sign-in; a script asks the identity provider for a token for the product's API itself"
)


def _not_offered(reason: str) -> str:
    raise TokenNotOffered(reason)


class ErrorRenderer(Protocol):
    #: The dashboard's address from a product's page (absolute when products have own hosts).
    dashboard_url: str

    def __call__(
        self,
        *,
        status: int,
        heading: str,
        message: str,
        user: PortalUser | None = None,
        details: str | None = None,
        action_url: str | None = None,
        action_label: str | None = None,
        logout_token: str | None = None,
    ) -> str: ...


def strip_portal_cookie(environ: dict) -> None:
    cookies = environ.get("HTTP_COOKIE")
    if cookies and "portal_session" in cookies:
        kept = [
            c for c in cookies.split(";") if c.split("=", 1)[0].strip() not in PORTAL_COOKIE_NAMES
        ]
        environ["HTTP_COOKIE"] = ";".join(kept).strip()


def is_websocket(environ: dict) -> bool:
    return environ.get("HTTP_UPGRADE", "").lower() == "websocket"


def wants_json(environ: dict) -> bool:
    """API clients and websocket upgrades get JSON answers; browsers get pages and redirects.
    (A product never sees the bearer token a request came with: the auth method says it.)"""
    if environ.get("HTTP_AUTHORIZATION") or is_websocket(environ):
        return True
    if environ.get(AUTH_METHOD_ENVIRON_KEY) == "bearer":
        return True
    accept = environ.get("HTTP_ACCEPT", "")
    return "application/json" in accept and "text/html" not in accept


def original_path(environ: dict) -> str:
    """The path and query as the browser sent them (WSGI strings carry the bytes as latin-1)."""
    raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    path = quote(raw, safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _private(
    start_response: Callable, product: ProductInfo, foreign_origin: bool
) -> Callable:
    """Responses behind the Gate are per person: never shared by caches, never set the portal's
    cookies, the product's own cookies stay within its mount (see `auth.cookies`), and a request
    from another product's host gets no CORS permission, whatever the product answers."""
    own = product_cookie_name(product)

    def private_start_response(status: str, headers: list, exc_info: object = None) -> Callable:
        kept = []
        for name, value in headers:
            lowered = name.lower()
            if lowered == "set-cookie":
                value = scoped_cookie(value, product.mount_path, own_name=own)
                if value is None:
                    continue
            elif foreign_origin and lowered in _CORS_HEADERS:
                continue
            kept.append((name, value))
        names = {name.lower() for name, _ in kept}
        if "cache-control" not in names:
            kept.append(("Cache-Control", "private"))
        kept.append(("Vary", "Cookie"))
        return start_response(status, kept, exc_info)

    return private_start_response


class Gate:
    """One per mounted product; `websocket_origins` are other sites whose pages may open its
    websockets (the product's own origin always may)."""

    def __init__(
        self,
        app: WSGIApp,
        product: ProductInfo,
        resolver: IdentityResolver,
        render_error: ErrorRenderer,
        *,
        origins: Origins,
        websocket_origins: frozenset[str] = frozenset(),
        sockets: SocketRegistry | None = None,
        tokens: UserTokens | None = None,
    ) -> None:
        self.app = app
        self.product = product
        self.resolver = resolver
        self.render_error = render_error
        self.origins = origins
        self.own_origin = origins.product_origin(product.key)
        self.allowed_origins = frozenset({self.own_origin, *websocket_origins})
        self.sockets = sockets
        self.tokens = tokens

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        strip_identity_headers(environ)
        environ[MOUNT_ENVIRON_KEY] = self.product.key
        note(product=self.product.key)
        if is_websocket(environ) and environ.get("HTTP_ORIGIN", self.own_origin) not in (
            self.allowed_origins
        ):
            self._decided(None, "denied")
            return json_response(start_response, 403, _FOREIGN_ORIGIN)
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        method = "bearer" if scheme.lower() == "bearer" else "session"
        try:
            if method == "bearer":
                identity = self.resolver.resolve_bearer(token.strip())
            else:
                identity = self.resolver.resolve(environ)
        except IssuerKeysUnavailable:
            log.warning("no issuer keys yet: cannot check an access token for %s", self.product.key)
            return self._unavailable(
                environ,
                start_response,
                "The portal cannot check access tokens until the identity provider answers. "
                "Please try again in a few seconds.",
                retry_after=IssuerKeysUnavailable.retry_after,
            )
        except BearerError as error:
            self._decided(None, "unauthenticated")
            return json_response(
                start_response,
                401,
                {"error": "invalid_token", "message": f"Access token refused: {error}."},
                [("WWW-Authenticate", 'Bearer realm="portal", error="invalid_token"')],
            )
        except TamperedCookies:
            self._decided(None, "tampered")
            return self._tampered(environ, start_response)
        except (SQLAlchemyError, ValueError):
            log.exception("could not check the session for %s", self.product.key)
            return self._unavailable(environ, start_response)
        if identity is None:
            self._decided(None, "unauthenticated" if wants_json(environ) else "redirected")
            return self._anonymous(environ, start_response)
        note(user_id=identity.user.id)
        if identity.blocked:
            self._decided(identity, "blocked")
            return self._blocked(identity, environ, start_response)
        if not identity.opens(self.product):
            self._decided(identity, "denied")
            return self._too_low(identity, environ, start_response)
        if method == "bearer":
            missing = self._missing_scope(identity)
            if missing:
                self._decided(identity, "denied")
                return self._insufficient_scope(missing, start_response)
            del environ["HTTP_AUTHORIZATION"]  # the product gets the identity, never the token
        self._decided(identity, "allowed")
        return self._let_through(environ, start_response, identity, method)

    def _let_through(
        self, environ: dict, start_response: Callable, identity: Identity, method: str
    ) -> Iterable[bytes]:
        strip_portal_cookie(environ)
        environ[USER_ENVIRON_KEY] = replace(
            identity.user, token_source=self._token_source(method, identity)
        )
        environ[PRODUCT_ENVIRON_KEY] = self.product
        environ[LOGOUT_TOKEN_ENVIRON_KEY] = identity.logout_token
        environ[AUTH_METHOD_ENVIRON_KEY] = method
        environ["REMOTE_USER"] = identity.user.subject
        private = _private(start_response, self.product, self._foreign_origin(environ))
        if self.sockets is not None and is_websocket(environ):
            with self.sockets.holding(identity, self.product, environ) as guard:
                environ[SOCKET_GUARD_ENVIRON_KEY] = guard
                return self._product(environ, private, identity)
        return self._product(environ, private, identity)

    def _foreign_origin(self, environ: dict) -> bool:
        """In host mode, a request whose `Origin` is another product's host (or any host but
        this product's and the portal's)."""
        origin = environ.get("HTTP_ORIGIN")
        if not self.origins.host_mode or not origin:
            return False
        return origin not in (self.own_origin, self.origins.portal_origin)

    def _product(
        self, environ: dict, start_response: Callable, identity: Identity
    ) -> Iterable[bytes]:
        """The product's answer; if it raises before answering, a 500 page for this request
        alone (the product's own frameworks usually catch first; bare WSGI apps may not)."""
        try:
            return self.app(environ, start_response)
        except StopIteration:
            raise
        except Exception:
            log.exception("product %s failed a request", self.product.key)
            page = self.render_error(
                status=500,
                heading=f"{self.product.title} hit an error",
                message="This request failed inside the product; it has been logged. The rest "
                "of the portal works as usual.",
                user=identity.user,
                action_url=self.render_error.dashboard_url,
                action_label="Back to your dashboard",
                logout_token=identity.logout_token,
            )
            return html_response(start_response, 500, page, exc_info=sys.exc_info())

    def _decided(self, identity: Identity | None, decision: str) -> None:
        tier = identity.user.tier.value if identity else "anonymous"
        GATE_DECISIONS.labels(self.product.key, tier, decision).inc()

    def _missing_scope(self, identity: Identity) -> str | None:
        """Admin products hold the portal's own services: a token opens them only with the admin
        scope, which sign-in never asks for, so no session's token, nor a product holding one,
        reaches them. Other products take any token of the portal's API, as before."""
        if self.product.tier is not Tier.ADMIN or self.resolver.bearer is None:
            return None
        needed = self.resolver.bearer.admin_scope
        return None if needed in identity.scopes else needed

    def _insufficient_scope(self, scope: str, start_response: Callable) -> Iterable[bytes]:
        payload = {
            "error": "insufficient_scope",
            "message": f"The admin API needs an access token with the {scope} scope, which "
            "sign-in never asks for: ask the identity provider for it (`portal token admin` "
            "in development).",
            "required_scope": scope,
        }
        challenge = f'Bearer realm="portal", error="insufficient_scope", scope="{scope}"'
        return json_response(start_response, 403, payload, [("WWW-Authenticate", challenge)])

    def _token_source(self, method: str, identity: Identity) -> Callable[[], str] | None:
        """What `current_user.access_token()` answers: a token for the API the product declares,
        got with the session's refresh token; never the portal's own token, nor the caller's."""
        if method == "bearer":
            return partial(_not_offered, _BEARER_REQUEST_REASON)
        if not self.product.audience:
            return partial(
                _not_offered,
                f"{self.product.key} declares no API audience; add audience = \"<the API's "
                'identifier>" (and scope = "...", if it needs permissions) to its product.toml',
            )
        if self.tokens is None:
            return None
        return partial(
            self.tokens.access_token, identity.session_id, self.product.audience, self.product.scope
        )

    def _sign_in_url(self, environ: dict) -> str:
        """Where a browser without this host's cookie goes: sign-in, or in host mode the portal
        host's handoff, which signs in first when needed and brings back this host's cookie."""
        if not self.origins.host_mode:
            return "/login?" + urlencode({"next": original_path(environ)})
        return handoff_start_url(self.origins, self.product.key, original_path(environ))

    def _tampered(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = normalize_host(get_host(environ), self.origins.scheme)
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        clears = [("Set-Cookie", c) for c in stray_copies_cleared(self.origins, path, host)]
        if wants_json(environ):
            return json_response(
                start_response, 400, {"error": "tampered_cookies", "message": TAMPERED}, clears
            )
        page = self.render_error(
            status=400, heading="Sign-in cookie tampered with", message=TAMPERED
        )
        return html_response(start_response, 400, page, clears)

    def _anonymous(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        login_url = self._sign_in_url(environ)
        if wants_json(environ):
            payload = {
                "error": "unauthenticated",
                "message": f"Sign in to use {self.product.key}.",
                "login_url": login_url,
            }
            return json_response(
                start_response, 401, payload, extra=[("WWW-Authenticate", 'Bearer realm="portal"')]
            )
        start_response(
            "302 Found",
            [("Location", login_url), ("Cache-Control", "no-store"), ("Content-Length", "0")],
        )
        return [b""]

    def _blocked(
        self, identity: Identity, environ: dict, start_response: Callable
    ) -> Iterable[bytes]:
        if identity.session_id:
            self.resolver.end_session(identity.session_id, EndReason.BLOCK_SHOWN)
        clear = cleared_session_cookie(self.origins)
        message = (
            "Your account is blocked. Contact an administrator if you think this is a mistake."
        )
        extra = [("Set-Cookie", clear)]
        if wants_json(environ):
            return json_response(
                start_response, 403, {"error": "blocked", "message": message}, extra
            )
        page = self.render_error(status=403, heading="Account blocked", message=message)
        return html_response(start_response, 403, page, extra)

    def _too_low(
        self, identity: Identity, environ: dict, start_response: Callable
    ) -> Iterable[bytes]:
        user, needed = identity.user, self.product.tier
        message = (
            f"{self.product.title} ({self.product.key}) needs the {needed.label} tier "
            f"({needed.value}) or higher. Your tier is {user.tier.label} ({user.tier.value})."
        )
        if wants_json(environ):
            payload = {
                "error": "forbidden",
                "message": message,
                "required_tier": needed.value,
                "your_tier": user.tier.value,
            }
            return json_response(start_response, 403, payload)
        page = self.render_error(
            status=403,
            heading="Not available with your tier",
            message=message,
            user=user,
            action_url=self.render_error.dashboard_url,
            action_label="Back to your dashboard",
            logout_token=identity.logout_token,
        )
        return html_response(start_response, 403, page)

    def _unavailable(
        self,
        environ: dict,
        start_response: Callable,
        message: str = "The portal cannot check your session right now. "
        "Please try again in a minute.",
        *,
        retry_after: int = 30,
    ) -> Iterable[bytes]:
        """503, HTML or JSON, both with `Retry-After`: clients and proxies may retry then."""
        extra = [("Retry-After", str(retry_after))]
        if wants_json(environ):
            return json_response(
                start_response, 503, {"error": "unavailable", "message": message}, extra
            )
        page = self.render_error(status=503, heading="Temporarily unavailable", message=message)
        return html_response(start_response, 503, page, extra)
