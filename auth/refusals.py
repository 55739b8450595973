"""What the Gate answers when it does not let a request through to the product.

Each answer says, in words a person or a script can act on, why and what to do next: sign in,
ask for a higher tier, wait and retry. Browsers get pages in the portal's frame, API clients and
websocket upgrades get JSON.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from urllib.parse import quote, urlencode

from werkzeug.exceptions import NotFound

from auth.cookies import cleared_session_cookie, stray_copies_cleared
from auth.handoff import HANDOFF_PATH, handoff_start_url, handoff_state
from auth.hosts import Origins
from auth.identity import ProductInfo
from auth.locations import Locations
from auth.product_paths import PathPolicy, StricterPath, path_readings
from auth.responses import (
    ErrorPage,
    ErrorRenderer,
    error_answer,
    html_response,
    json_response,
    wants_json,
)
from auth.tiers import Tier
from auth.users import Identity

log = logging.getLogger(__name__)

TAMPERED = (
    "This request carried more than one sign-in cookie for this site: a page (possibly a "
    "product's script) set another one. It was not used, and the extra ones have been removed; "
    "reload the page."
)
BLOCKED = "Your account is blocked. Contact an administrator if you think this is a mistake."
#: Where a proxy that answers the sign-in redirect itself (nginx) sends the browser: in host mode
#: the product host's own start of the handoff, which sets the state cookie the proxy can't.
SIGN_IN_HEADER = "X-Portal-Sign-In"
SESSION_UNCHECKED = "The portal cannot check your session right now. Please try again in a minute."


def original_path(environ: dict) -> str:
    """The path and query as the browser sent them (WSGI strings carry the bytes as latin-1)."""
    raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    path = quote(raw, safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def too_low_message(
    product: ProductInfo, identity: Identity, need: tuple[Tier, StricterPath | None]
) -> str:
    """Why the user's tier does not open the product (or the part of it a stricter rule raised)."""
    (needed, rule), tier = need, identity.user.tier
    what = f"{product.title} ({product.key})"
    if rule is not None:
        what = f"{rule.prefix}/ of {what}"
    return (
        f"{what} needs the {needed.label} tier ({needed.value}) or higher. "
        f"Your tier is {tier.label} ({tier.value})."
    )


def may_not_open(identity: Identity, product: ProductInfo, next_path: str) -> str | None:
    """Why this user may not open `next_path` (a path from the product's mount on) now, in the
    Gate's own words and by its own rules (tier, grant, stricter paths); None when they may."""
    inside = next_path[len(f"/{product.key}") :].partition("?")[0] or "/"
    policy = PathPolicy.for_product(product.tier, product.stricter_paths, ())
    need = policy.needs(path_readings(inside)) if policy else (product.tier, None)
    return None if identity.opens(product, need[0]) else too_low_message(product, identity, need)


class Refusals:
    """The answers for one product's Gate."""

    def __init__(self, product: ProductInfo, render: ErrorRenderer, origins: Origins) -> None:
        self.product = product
        self.render = render
        self.origins = origins
        self.locations = Locations(origins)

    def sign_in_url(self, environ: dict) -> tuple[str, list[tuple[str, str]]]:
        """Where a browser without this host's cookie goes, and the cookies to set first:
        sign-in, or in host mode the portal host's handoff (which signs in first when needed
        and brings back this host's cookie) with the state cookie binding it to this browser."""
        if not self.origins.host_mode:
            return "/login?" + urlencode({"next": original_path(environ)}), []
        digest, cookies = handoff_state(environ, self.origins)
        url = handoff_start_url(self.origins, self.product.key, original_path(environ), digest)
        return url, cookies

    def anonymous(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        login_url, cookies = self.sign_in_url(environ)
        if wants_json(environ):
            payload = {
                "error": "unauthenticated",
                "message": f"Sign in to use {self.product.key}.",
                "login_url": login_url,
            }
            challenge = [("WWW-Authenticate", 'Bearer realm="portal"'), *cookies]
            return json_response(start_response, 401, payload, challenge)
        if self.origins.host_mode:  # for nginx, which sends the browser on but sets no cookie
            begin = f"{HANDOFF_PATH}?" + urlencode({"next": original_path(environ)})
            cookies = [*cookies, (SIGN_IN_HEADER, begin)]
        return self.locations.redirect(start_response, "302 Found", login_url, cookies)

    def foreign_origin(self, start_response: Callable) -> Iterable[bytes]:
        payload = {
            "error": "forbidden_origin",
            "message": "Websocket connections are accepted only from the product's own pages.",
        }
        return json_response(start_response, 403, payload)

    def invalid_token(self, reason: str, start_response: Callable) -> Iterable[bytes]:
        payload = {"error": "invalid_token", "message": f"Access token refused: {reason}."}
        challenge = [("WWW-Authenticate", 'Bearer realm="portal", error="invalid_token"')]
        return json_response(start_response, 401, payload, challenge)

    def insufficient_scope(self, scope: str, start_response: Callable) -> Iterable[bytes]:
        payload = {
            "error": "insufficient_scope",
            "message": f"The admin API needs an access token with the {scope} scope, which "
            "sign-in never asks for: ask the identity provider for it (`portal token admin` "
            "in development).",
            "required_scope": scope,
        }
        challenge = f'Bearer realm="portal", error="insufficient_scope", scope="{scope}"'
        return json_response(start_response, 403, payload, [("WWW-Authenticate", challenge)])

    def tampered(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = self.origins.request_host(environ)
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        clears = [("Set-Cookie", c) for c in stray_copies_cleared(self.origins, path, host)]
        page = ErrorPage(400, "Sign-in cookie tampered with", TAMPERED)
        return error_answer(
            environ, start_response, page, self.render, error="tampered_cookies", extra=clears
        )

    def blocked(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        clear = [("Set-Cookie", cleared_session_cookie(self.origins))]
        page = ErrorPage(403, "Account blocked", BLOCKED)
        return error_answer(
            environ, start_response, page, self.render, error="blocked", extra=clear
        )

    def too_low(
        self,
        identity: Identity,
        need: tuple[Tier, StricterPath | None],
        environ: dict,
        start_response: Callable,
    ) -> Iterable[bytes]:
        user, needed = identity.user, need[0]
        message = too_low_message(self.product, identity, need)
        page = ErrorPage(
            403,
            "Not available with your tier",
            message,
            action_url=self.render.dashboard_url,
            action_label="Back to your dashboard",
        )
        if wants_json(environ):
            fields = {"required_tier": needed.value, "your_tier": user.tier.value}
            return error_answer(
                environ, start_response, page, self.render, error="forbidden", fields=fields
            )
        body = self.render(page, user=user, logout_token=identity.logout_token)
        return html_response(start_response, 403, body)

    def removed(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """A path this deployment removed (`PORTAL_BLOCK`): to everyone, signed in or not, the
        portal's own 404, as if the product had never had it."""
        page = ErrorPage(404, NotFound.name, NotFound.description)
        return error_answer(environ, start_response, page, self.render, error="not_found")

    def unavailable(
        self,
        environ: dict,
        start_response: Callable,
        message: str = SESSION_UNCHECKED,
        *,
        retry_after: int = 30,
    ) -> Iterable[bytes]:
        """503, HTML or JSON, both with `Retry-After`: clients and proxies may retry then."""
        page = ErrorPage(503, "Temporarily unavailable", message)
        retry = [("Retry-After", str(retry_after))]
        return error_answer(
            environ, start_response, page, self.render, error="unavailable", extra=retry
        )

    def product_failed(self, identity: Identity, start_response: Callable) -> Iterable[bytes]:
        """The product raised before answering: a 500 page for this request alone (frameworks
        usually catch first; bare WSGI apps may not)."""
        log.exception("product %s failed a request", self.product.key)
        page = ErrorPage(
            500,
            f"{self.product.title} hit an error",
            "This request failed inside the product; it has been logged. The rest of the portal "
            "works as usual.",
            action_url=self.render.dashboard_url,
            action_label="Back to your dashboard",
        )
        body = self.render(page, user=identity.user, logout_token=identity.logout_token)
        return html_response(start_response, 500, body, exc_info=sys.exc_info())
