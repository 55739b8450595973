"""Signing out (`/logout`) and, in host mode, the start of a product host's cookie handoff.

Sign-out ends the server-side session (so every host's cookie dies with it), closes this worker's
sockets of the session (other workers hear it at once through Redis), and then sends the browser
to the identity provider's end-session endpoint. A sign-out that arrives with two session cookies
(one planted by a page) still ends the session its form names, and says what happened.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, request, session

from auth.cookies import cookie_values
from auth.handoff import HANDOFF_PATH, STATE_DIGEST, within_mount
from auth.hosts import normalize_host
from auth.oidc import end_session_url
from auth.refusals import may_not_open
from portal.views import go, issuer, rendering, services

log = logging.getLogger(__name__)

signout = Blueprint("signout", __name__)
TAMPERED_SIGN_OUT = (
    "A page had set a second sign-in cookie for this site (possibly a product's script); it "
    "has been removed."
)
NOT_CONFIRMED = (
    "This sign-out request did not come from a page of this portal. Use the Sign out button to "
    "sign out."
)


@signout.get("/logout")
def confirm() -> object:
    if rendering.identity() is None:
        return go("/")
    return rendering.page("portal/logout.html")


@signout.post("/logout")
def logout() -> object:
    if session.tampered:
        return _sign_out_tampered()
    raw_id = session.raw_id
    if raw_id is None:
        return go("/")
    current = services()
    if not current.store.check_logout_token(raw_id, request.form.get("token", "")):
        return rendering.error(
            400,
            "Sign-out not confirmed",
            NOT_CONFIRMED,
            action_url="/logout",
            action_label="Sign out",
        )
    tokens = current.tokens.tokens(raw_id)
    current.resolver.end_session(raw_id)
    current.sockets.close_session(raw_id, "signed out")
    session.end()
    settings = current.settings
    issuer_logout = end_session_url(
        issuer(),
        id_token=tokens.id_token if tokens else None,
        return_to=settings.base_url + "/",
        client_id=settings.client_id,
        auth0_domain=settings.auth0_domain,
    )
    return go(issuer_logout or "/")


def _sign_out_tampered() -> Response:
    """End the session whose sign-out token the form carries, clear every copy of the cookie,
    and say what happened."""
    current = services()
    origins = current.settings.origins
    token = request.form.get("token", "")
    host = normalize_host(request.host, origins.scheme)
    raw_ids = [
        current.store.id_from_cookie(value, host)
        for value in cookie_values(request.environ, origins.cookie_name)
    ]
    mine = [r for r in raw_ids if r and current.store.check_logout_token(r, token)]
    session.end()
    for raw_id in mine:
        current.resolver.end_session(raw_id)
        current.sockets.close_session(raw_id, "signed out")
    if not mine:
        return rendering.error(
            400,
            "Sign-out not confirmed",
            TAMPERED_SIGN_OUT + " Sign in again, then sign out with the Sign out button.",
        )
    log.warning("a sign-out carried %d session cookies; ended the confirmed one", len(raw_ids))
    return rendering.error(200, "You are signed out", TAMPERED_SIGN_OUT + " You are signed out.")


@signout.get(HANDOFF_PATH)
def handoff() -> object:
    """Host mode: a product's host has no cookie yet; send it one for this session, bound to
    the browser whose state the link names, if this user may open the product (and the page
    `next` names in it) now."""
    current = services()
    key = request.args.get("product", "")
    product = next((p.info for p in current.discovery.mounted() if p.info.key == key), None)
    if not current.settings.origins.host_mode or product is None:
        return rendering.error(404, "Not found", "There is no such product to open.")
    digest = request.args.get("state", "")
    if not STATE_DIGEST.fullmatch(digest):
        return rendering.error(
            400,
            "This sign-in link is incomplete",
            "Sign-in links to a product are made by the product's own pages. Open the product "
            "to sign in to it.",
            action_url=current.settings.origins.product_url(key),
            action_label="Open the product",
        )
    who = rendering.identity()
    if who is None:
        return go(current.locations.here("/login", urlencode({"next": request.full_path})))
    next_path = within_mount(request.args.get("next"), f"/{key}")
    refused = may_not_open(who, product, next_path)
    if refused is not None:
        return rendering.error(
            403,
            "Not available with your tier",
            refused,
            action_url=current.pages.dashboard_url,
            action_label="Back to your dashboard",
        )
    response = go(current.handoffs.issue(who.session_id, key, next_path, digest))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
