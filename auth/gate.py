"""The Gate: WSGI middleware that enforces a product's tier before the product sees anything.

It wraps the whole product app, so every route is covered: `add_url_rule`, blueprints, static
files, error pages, websocket upgrades and apps that are not Flask at all. Identity reaches the
product only through the WSGI environ; request headers that look like identity are removed first,
because any client can send them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Protocol
from urllib.parse import quote, urlencode

from auth.identity import (
    LOGOUT_TOKEN_ENVIRON_KEY,
    PRODUCT_ENVIRON_KEY,
    USER_ENVIRON_KEY,
    PortalUser,
    ProductInfo,
)
from auth.resolver import Identity, IdentityResolver
from auth.sessions import COOKIE_NAME

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
_IDENTITY_HEADER_PREFIXES = (
    "HTTP_X_PORTAL_",
    "HTTP_X_AUTH_",
    "HTTP_X_USER",
    "HTTP_X_FORWARDED_USER",
)
_IDENTITY_HEADERS = {
    "HTTP_REMOTE_USER",
    "HTTP_X_REMOTE_USER",
    "HTTP_X_EMAIL",
    "HTTP_X_FORWARDED_EMAIL",
    "HTTP_X_FORWARDED_PREFERRED_USERNAME",
    "HTTP_X_FORWARDED_GROUPS",
    "HTTP_X_TIER",
}


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
    ) -> str: ...


def strip_identity_headers(environ: dict) -> None:
    for key in list(environ):
        if key in _IDENTITY_HEADERS or key.startswith((*_IDENTITY_HEADER_PREFIXES, "portal.")):
            del environ[key]
    environ.pop("REMOTE_USER", None)


def wants_json(environ: dict) -> bool:
    """API clients and websocket upgrades get JSON answers; browsers get pages and redirects."""
    if environ.get("HTTP_AUTHORIZATION") or environ.get("HTTP_UPGRADE", "").lower() == "websocket":
        return True
    accept = environ.get("HTTP_ACCEPT", "")
    return "application/json" in accept and "text/html" not in accept


def original_path(environ: dict) -> str:
    path = quote(
        environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=-._~"
    )
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


class Gate:
    def __init__(
        self,
        app: WSGIApp,
        product: ProductInfo,
        resolver: IdentityResolver,
        render_error: ErrorRenderer,
    ) -> None:
        self.app = app
        self.product = product
        self.resolver = resolver
        self.render_error = render_error

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        strip_identity_headers(environ)
        identity = self.resolver.resolve(environ)
        if identity is None:
            return self._anonymous(environ, start_response)
        if identity.blocked:
            return self._blocked(identity, environ, start_response)
        if not identity.user.tier.opens(self.product.tier):
            return self._too_low(identity.user, environ, start_response)
        environ[USER_ENVIRON_KEY] = identity.user
        environ[PRODUCT_ENVIRON_KEY] = self.product
        environ[LOGOUT_TOKEN_ENVIRON_KEY] = identity.logout_token
        environ["REMOTE_USER"] = identity.user.subject
        return self.app(environ, start_response)

    def _anonymous(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        login_url = "/login?" + urlencode({"next": original_path(environ)})
        if wants_json(environ):
            return json_response(
                start_response,
                401,
                {
                    "error": "unauthenticated",
                    "message": f"Sign in to use {self.product.key}.",
                    "login_url": login_url,
                },
                extra=[("WWW-Authenticate", 'Bearer realm="portal"')],
            )
        start_response(
            "302 Found",
            [("Location", login_url), ("Cache-Control", "no-store"), ("Content-Length", "0")],
        )
        return [b""]

    def _blocked(
        self, identity: Identity, environ: dict, start_response: Callable
    ) -> Iterable[bytes]:
        self.resolver.store.revoke(identity.session_id)
        self.resolver.forget(identity.session_id)
        clear = (
            "Set-Cookie",
            f"{COOKIE_NAME}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; HttpOnly; "
            "SameSite=Lax",
        )
        message = (
            "Your account is blocked. Contact an administrator if you think this is a mistake."
        )
        if wants_json(environ):
            return json_response(
                start_response, 403, {"error": "blocked", "message": message}, extra=[clear]
            )
        body = self.render_error(status=403, heading="Account blocked", message=message)
        return html_response(start_response, 403, body, extra=[clear])

    def _too_low(
        self, user: PortalUser, environ: dict, start_response: Callable
    ) -> Iterable[bytes]:
        needed = self.product.tier
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
        body = self.render_error(
            status=403,
            heading="Not available with your tier",
            message=message,
            user=user,
            action_url="/",
            action_label="Back to your dashboard",
        )
        return html_response(start_response, 403, body)


def json_response(
    start_response: Callable, status: int, payload: dict, extra: list | None = None
) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *(extra or []),
    ]
    start_response(_STATUS[status], headers)
    return [body]


def html_response(
    start_response: Callable, status: int, body: str, extra: list | None = None
) -> Iterable[bytes]:
    data = body.encode()
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
        *(extra or []),
    ]
    start_response(_STATUS[status], headers)
    return [data]


_STATUS = {401: "401 Unauthorized", 403: "403 Forbidden", 503: "503 Service Unavailable"}
