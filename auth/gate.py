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
from werkzeug.http import dump_cookie

from auth.bearer import BearerError
from auth.cookies import scoped_cookie
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
from auth.log_context import note
from auth.metrics import GATE_DECISIONS
from auth.resolver import Identity, IdentityResolver
from auth.responses import html_response, json_response
from auth.sessions import COOKIE_NAME
from auth.sockets import SocketRegistry
from auth.tiers import Tier
from auth.user_tokens import UserTokens

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
_STRIPPED_PREFIXES = (
    "HTTP_X_PORTAL_",
    "HTTP_X_AUTH_",
    "HTTP_X_USER",
    "HTTP_X_FORWARDED_USER",
)
_STRIPPED_KEYS = frozenset(
    {
        "REMOTE_USER",
        "HTTP_REMOTE_USER",
        "HTTP_X_REMOTE_USER",
        "HTTP_X_EMAIL",
        "HTTP_X_FORWARDED_EMAIL",
        "HTTP_X_FORWARDED_PREFERRED_USERNAME",
        "HTTP_X_FORWARDED_GROUPS",
        "HTTP_X_TIER",
    }
)


_FOREIGN_ORIGIN = {
    "error": "forbidden_origin",
    "message": "Websocket connections are accepted only from the portal's own pages.",
}


_BEARER_REQUEST_REASON = (
    "it came with a bearer token, and the portal gets product tokens only from a browser "
    "sign-in; a script asks the identity provider for a token for the product's API itself"
)


def _not_offered(reason: str) -> str:
    raise TokenNotOffered(reason)


class ErrorRenderer(Protocol):
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


def strip_identity_headers(environ: dict) -> None:
    for key in [k for k in environ if k in _STRIPPED_KEYS or k.startswith(_STRIPPED_PREFIXES)]:
        del environ[key]


def strip_portal_cookie(environ: dict) -> None:
    cookies = environ.get("HTTP_COOKIE")
    if cookies and COOKIE_NAME in cookies:
        kept = [c for c in cookies.split(";") if c.split("=", 1)[0].strip() != COOKIE_NAME]
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


def _private(start_response: Callable, mount_path: str) -> Callable:
    """Responses behind the Gate are per person: never shared by caches, never set our cookie,
    and the product's own cookies stay within its mount (see `auth.cookies`)."""

    def private_start_response(status: str, headers: list, exc_info: object = None) -> Callable:
        kept = []
        for name, value in headers:
            if name.lower() == "set-cookie":
                value = scoped_cookie(value, mount_path, forbidden=(COOKIE_NAME,))
                if value is None:
                    continue
            kept.append((name, value))
        names = {name.lower() for name, _ in kept}
        if "cache-control" not in names:
            kept.append(("Cache-Control", "private"))
        kept.append(("Vary", "Cookie"))
        return start_response(status, kept, exc_info)

    return private_start_response


class Gate:
    """One per mounted product; `allowed_origins` are the sites whose pages may open websockets."""

    def __init__(
        self,
        app: WSGIApp,
        product: ProductInfo,
        resolver: IdentityResolver,
        render_error: ErrorRenderer,
        *,
        allowed_origins: frozenset[str],
        sockets: SocketRegistry | None = None,
        tokens: UserTokens | None = None,
        secure_cookies: bool = False,
    ) -> None:
        self.app = app
        self.product = product
        self.resolver = resolver
        self.render_error = render_error
        self.allowed_origins = allowed_origins
        self.sockets = sockets
        self.tokens = tokens
        self.secure_cookies = secure_cookies

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        strip_identity_headers(environ)
        environ[MOUNT_ENVIRON_KEY] = self.product.key
        note(product=self.product.key)
        if is_websocket(environ) and environ.get("HTTP_ORIGIN", self._any_allowed()) not in (
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
        except BearerError as error:
            self._decided(None, "unauthenticated")
            return json_response(
                start_response,
                401,
                {"error": "invalid_token", "message": f"Access token refused: {error}."},
                [("WWW-Authenticate", 'Bearer realm="portal", error="invalid_token"')],
            )
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
        strip_portal_cookie(environ)
        environ[USER_ENVIRON_KEY] = replace(
            identity.user, token_source=self._token_source(method, identity)
        )
        environ[PRODUCT_ENVIRON_KEY] = self.product
        environ[LOGOUT_TOKEN_ENVIRON_KEY] = identity.logout_token
        environ[AUTH_METHOD_ENVIRON_KEY] = method
        environ["REMOTE_USER"] = identity.user.subject
        private = _private(start_response, self.product.mount_path)
        if self.sockets is not None and is_websocket(environ):
            with self.sockets.holding(identity, self.product, environ) as guard:
                environ[SOCKET_GUARD_ENVIRON_KEY] = guard
                return self._product(environ, private, identity)
        return self._product(environ, private, identity)

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
                action_url="/",
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

    def _any_allowed(self) -> str:
        """Clients that send no Origin are not browsers, so cross-site hijacking does not apply."""
        return next(iter(self.allowed_origins))

    def _anonymous(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        login_url = "/login?" + urlencode({"next": original_path(environ)})
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
            self.resolver.end_session(identity.session_id)
        clear = dump_cookie(
            COOKIE_NAME,
            "",
            max_age=0,
            expires=0,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookies,
        )
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
            action_url="/",
            action_label="Back to your dashboard",
            logout_token=identity.logout_token,
        )
        return html_response(start_response, 403, page)

    def _unavailable(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        message = "The portal cannot check your session right now. Please try again in a minute."
        if wants_json(environ):
            return json_response(start_response, 503, {"error": "unavailable", "message": message})
        page = self.render_error(status=503, heading="Temporarily unavailable", message=message)
        return html_response(start_response, 503, page, [("Retry-After", "30")])
