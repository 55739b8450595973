"""The Gate: WSGI middleware that enforces a product's tier before the product sees anything.

It wraps the whole product app, so every route is covered: `add_url_rule`, blueprints, static
files, error pages, websocket upgrades and apps that are not Flask at all. Identity reaches the
product only through the WSGI environ; request headers that look like identity are removed first,
because any client can send them. The portal's own session cookie is removed too, in both
directions: a product (or its debug page, or its logs) never holds a credential that opens the
products above it, and cannot plant one in the browser. What the Gate answers when it refuses is
in `auth.refusals`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial

from sqlalchemy.exc import SQLAlchemyError

from auth.bearer import BearerError, IssuerKeysUnavailable
from auth.cookies import PORTAL_COOKIE_NAMES, TamperedCookies, product_cookie_name, scoped_cookie
from auth.hosts import Origins
from auth.identity import (
    AUTH_METHOD_ENVIRON_KEY,
    LOGOUT_TOKEN_ENVIRON_KEY,
    MOUNT_ENVIRON_KEY,
    PRODUCT_ENVIRON_KEY,
    SOCKET_GUARD_ENVIRON_KEY,
    USER_ENVIRON_KEY,
    ProductInfo,
    TokenNotOffered,
)
from auth.identity_headers import DEFAULT, IdentityHeaders
from auth.log_context import note
from auth.metrics import GATE_DECISIONS, labelled
from auth.product_paths import PathPolicy, StricterPath, path_readings
from auth.refusals import Refusals
from auth.resolver import IdentityResolver
from auth.responses import ErrorRenderer, is_websocket, wants_json
from auth.sessions import EndReason
from auth.sockets import SocketRegistry
from auth.tiers import Tier
from auth.user_tokens import UserTokens
from auth.users import Identity

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
#: The tier a request's path needs, and the stricter sub-path rule that raised it (if any).
Need = tuple[Tier, StricterPath | None]
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
_CACHE_PRIVATE = ("Cache-Control", "private")
_VARY_COOKIE = ("Vary", "Cookie")
_BEARER_REQUEST_REASON = (
    "it came with a bearer token, and the portal gets product tokens only from a browser "
    "sign-in; a script asks the identity provider for a token for the product's API itself"
)
_NO_KEYS_YET = (
    "The portal cannot check access tokens until the identity provider answers. "
    "Please try again in a few seconds."
)


def _not_offered(reason: str) -> str:
    raise TokenNotOffered(reason)


def strip_portal_cookie(environ: dict) -> None:
    cookies = environ.get("HTTP_COOKIE")
    if cookies and "portal_session" in cookies:
        kept = [
            c for c in cookies.split(";") if c.split("=", 1)[0].strip() not in PORTAL_COOKIE_NAMES
        ]
        environ["HTTP_COOKIE"] = ";".join(kept).strip()


def _private(
    start_response: Callable, product: ProductInfo, own_cookie: str, foreign_origin: bool
) -> Callable:
    """Responses behind the Gate are per person: never shared by caches, never set the portal's
    cookies, the product's own cookies stay within its mount (see `auth.cookies`), and a request
    from another product's host gets no CORS permission, whatever the product answers."""

    def private_start_response(status: str, headers: list, exc_info: object = None) -> Callable:
        kept = []
        cache_control = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "set-cookie":
                value = scoped_cookie(value, product.mount_path, own_name=own_cookie)
                if value is None:
                    continue
            elif lowered == "cache-control":
                cache_control = True
            elif foreign_origin and lowered in _CORS_HEADERS:
                continue
            kept.append((name, value))
        if not cache_control:
            kept.append(_CACHE_PRIVATE)
        kept.append(_VARY_COOKIE)
        return start_response(status, kept, exc_info)

    return private_start_response


class Gate:
    """One per mounted product; `websocket_origins` are other sites whose pages may open its
    websockets (the product's own origin always may); `paths` holds its stricter sub-paths and
    the paths the deployment removed (None: nothing to check, no path is read)."""

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
        paths: PathPolicy | None = None,
        identity_headers: IdentityHeaders = DEFAULT,
    ) -> None:
        self.app = app
        self.product = product
        self.resolver = resolver
        self.origins = origins
        self.refuse = Refusals(product, render_error, origins)
        self.own_origin = origins.product_origin(product.key)
        self.own_cookie = product_cookie_name(product)
        self.allowed_origins = frozenset({self.own_origin, *websocket_origins})
        self.sockets = sockets
        self.tokens = tokens
        self.paths = paths
        self.identity_headers = identity_headers
        self.folder_need: Need = (product.tier, None)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        self.identity_headers.strip(environ)
        environ[MOUNT_ENVIRON_KEY] = self.product.key
        note(product=self.product.key)
        need = self.folder_need
        if self.paths is not None:
            readings = path_readings(environ.get("PATH_INFO", ""))
            if self.paths.removed(readings):
                self._decided(None, "removed")
                return self.refuse.removed(environ, start_response)
            need = self.paths.needs(readings)
        if is_websocket(environ) and environ.get("HTTP_ORIGIN", self.own_origin) not in (
            self.allowed_origins
        ):
            self._decided(None, "denied")
            return self.refuse.foreign_origin(start_response)
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        method = "bearer" if scheme.lower() == "bearer" else "session"
        try:
            identity = self._identify(environ, method, token.strip())
        except IssuerKeysUnavailable:
            log.warning("no issuer keys yet: cannot check an access token for %s", self.product.key)
            return self.refuse.unavailable(
                environ, start_response, _NO_KEYS_YET, retry_after=IssuerKeysUnavailable.retry_after
            )
        except BearerError as error:
            self._decided(None, "unauthenticated")
            return self.refuse.invalid_token(str(error), start_response)
        except TamperedCookies:
            self._decided(None, "tampered")
            return self.refuse.tampered(environ, start_response)
        except (SQLAlchemyError, ValueError):
            log.exception("could not check the session for %s", self.product.key)
            return self.refuse.unavailable(environ, start_response)
        return self._decide(environ, start_response, identity, method, need)

    def _identify(self, environ: dict, method: str, token: str) -> Identity | None:
        if method == "bearer":
            return self.resolver.resolve_bearer(token)
        return self.resolver.resolve(environ)

    def _decide(
        self,
        environ: dict,
        start_response: Callable,
        identity: Identity | None,
        method: str,
        need: Need,
    ) -> Iterable[bytes]:
        if identity is None:
            self._decided(None, "unauthenticated" if wants_json(environ) else "redirected")
            return self.refuse.anonymous(environ, start_response)
        note(user_id=identity.user.id)
        if identity.blocked:
            self._decided(identity, "blocked")
            if identity.session_id:
                self.resolver.end_session(identity.session_id, EndReason.BLOCK_SHOWN)
            return self.refuse.blocked(environ, start_response)
        if not identity.opens(self.product, need[0]):
            self._decided(identity, "denied")
            return self.refuse.too_low(identity, need, environ, start_response)
        if method == "bearer":
            missing = self._missing_scope(identity)
            if missing:
                self._decided(identity, "denied")
                return self.refuse.insufficient_scope(missing, start_response)
            del environ["HTTP_AUTHORIZATION"]  # the product gets the identity, never the token
        self._decided(identity, "allowed")
        return self._let_through(environ, start_response, identity, method, need[0])

    def _let_through(
        self, environ: dict, start_response: Callable, identity: Identity, method: str, needed: Tier
    ) -> Iterable[bytes]:
        strip_portal_cookie(environ)
        environ[USER_ENVIRON_KEY] = identity.user_as_seen(
            (self, method),
            lambda: replace(identity.user, token_source=self._token_source(method, identity)),
        )
        environ[PRODUCT_ENVIRON_KEY] = self.product
        environ[LOGOUT_TOKEN_ENVIRON_KEY] = identity.logout_token
        environ[AUTH_METHOD_ENVIRON_KEY] = method
        environ["REMOTE_USER"] = identity.user.subject
        private = _private(
            start_response, self.product, self.own_cookie, self._foreign_origin(environ)
        )
        if self.sockets is not None and is_websocket(environ):
            with self.sockets.holding(identity, self.product, environ, needed) as guard:
                environ[SOCKET_GUARD_ENVIRON_KEY] = guard
                return self._product(environ, private, identity)
        return self._product(environ, private, identity)

    def _product(
        self, environ: dict, start_response: Callable, identity: Identity
    ) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except StopIteration:
            raise  # how gunicorn ends a websocket the product served
        except Exception:
            return self.refuse.product_failed(identity, start_response)

    def _foreign_origin(self, environ: dict) -> bool:
        """In host mode, a request whose `Origin` is another product's host (or any host but
        this product's and the portal's)."""
        origin = environ.get("HTTP_ORIGIN")
        if not self.origins.host_mode or not origin:
            return False
        return origin not in (self.own_origin, self.origins.portal_origin)

    def _decided(self, identity: Identity | None, decision: str) -> None:
        tier = identity.user.tier.value if identity else "anonymous"
        labelled(GATE_DECISIONS, self.product.key, tier, decision).inc()

    def _missing_scope(self, identity: Identity) -> str | None:
        """Admin products hold the portal's own services: a token opens them only with the admin
        scope, which sign-in never asks for, so no session's token, nor a product holding one,
        reaches them. Other products take any token of the portal's API, as before."""
        if self.product.tier is not Tier.ADMIN or self.resolver.bearer is None:
            return None
        needed = self.resolver.bearer.admin_scope
        return None if needed in identity.scopes else needed

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
