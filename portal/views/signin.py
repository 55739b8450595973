"""Signing in: `/login` and `/callback`, the OpenID Connect authorization code flow (with PKCE,
state and nonce) through authlib. Both are limited per client address (see `portal.rate_limits`);
every way a callback can fail is a 400 page with a fixed sentence, what the identity provider
said going only to the log."""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, request, session

from auth.locations import encoded_target
from auth.metrics import LOGINS
from auth.oidc import ISSUER_UNREACHABLE, SIGN_IN_ERRORS, id_token_claims
from auth.user_tokens import TokenSet
from auth.users import SignIn, record_sign_in
from portal.views import go, issuer, rendering, services

log = logging.getLogger(__name__)

#: Limited per client address by `portal.rate_limits` (the whole blueprint, one shared count).
signin = Blueprint("signin", __name__)
CANONICAL_HOP = "canonical"


def safe_next(value: str | None) -> str:
    """A path on this site to return to after sign-in, encoded as `auth.locations` encodes
    every target (so a `#` or `?` decoded from it stays inside the path); anything else (hosts,
    schemes, control characters) is `/`."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return encoded_target(value)


def describe(error: Exception) -> str:
    """What went wrong at the callback, in fixed words a person can act on. Nothing the request
    or the identity provider sent (an `error_description`, a token's claim) reaches the page:
    it goes to the log, where an operator can read it."""
    code = str(getattr(error, "error", "") or "")
    if code == "access_denied":
        return "You cancelled the sign-in or the identity provider refused it."
    if code in {"mismatching_state", "missing_code"} or (not code and "state" in str(error)):
        return (
            "This sign-in link has expired or was already used. Start again from the sign-in page."
        )
    if code:
        return (
            "The identity provider could not sign you in. Start again from the sign-in page; "
            "if it keeps happening, tell an administrator the time it happened."
        )
    return (
        "The identity provider's answer could not be accepted. Start again from the sign-in page."
    )


def _is_blocked(error: Exception) -> bool:
    """Auth0 sends a blocked user back with `error=unauthorized` and `user is blocked` (on
    every sign-in, whether they typed a password or were still signed in there)."""
    code = str(getattr(error, "error", "") or "")
    description = str(getattr(error, "description", "") or "")
    return code == "unauthorized" and description.strip().lower() == "user is blocked"


def _account_blocked() -> Response:
    return rendering.error(
        403,
        "Account blocked",
        "Your account is blocked or was removed. Contact an administrator if you think this is "
        "a mistake.",
    )


def _sign_in_failed(message: str) -> Response:
    return rendering.error(
        400, "Sign-in failed", message, action_url="/login", action_label="Try signing in again"
    )


def _on_the_canonical_host(target: str) -> Response | None:
    """Sign-in must start where the callback will land: a request on a trusted alias is sent
    to the base URL's host once; arriving elsewhere again means a proxy rewrites the host."""
    settings = services().settings
    canonical = urlsplit(settings.base_url).netloc
    if request.host == canonical:
        return None
    if request.args.get(CANONICAL_HOP):
        log.error("requests reach the portal as %s, not %s", request.host, canonical)
        return rendering.error(
            500,
            "The portal's address is misconfigured",
            f"PORTAL_BASE_URL says {settings.base_url}, but this request came to "
            f"{request.host}. An operator needs to correct PORTAL_BASE_URL or the proxy.",
        )
    query = urlencode({"next": target, CANONICAL_HOP: "1"})
    return go(services().locations.portal("/login", query))


@signin.get("/login")
def login() -> object:
    target = safe_next(request.args.get("next"))
    elsewhere = _on_the_canonical_host(target)
    if elsewhere is not None:
        return elsewhere
    if rendering.identity() is not None:
        return go(target)
    if not services().metadata.reachable():
        return rendering.issuer_down()
    session["next"] = target
    try:
        client, callback_url = issuer(), services().settings.callback_url
        authorization = client.create_authorization_url(callback_url)
        client.save_authorize_data(redirect_uri=callback_url, **authorization)
        return go(authorization["url"])
    except ISSUER_UNREACHABLE:
        log.exception("identity provider unreachable at sign-in")
        return rendering.issuer_down()


@signin.get("/callback")
def callback() -> object:
    client = issuer()
    try:
        token = client.authorize_access_token(
            claims_options=id_token_claims(
                client.load_server_metadata(), services().settings.client_id
            )
        )
    except SIGN_IN_ERRORS as error:
        if _is_blocked(error):
            LOGINS.labels("refused").inc()
            return _account_blocked()
        LOGINS.labels("failed").inc()
        log.warning(
            "sign-in failed: %s %r",
            getattr(error, "error", None) or type(error).__name__,
            getattr(error, "description", None) or str(error),
        )
        return _sign_in_failed(describe(error))
    except ISSUER_UNREACHABLE:
        log.exception("identity provider unreachable at callback")
        return rendering.issuer_down()
    return _signed_in(token)


def _signed_in(token: dict) -> Response:
    """The person the ID token names: their row, then a fresh session for them."""
    claims = token.get("userinfo") or {}
    if not claims.get("sub"):
        log.warning("sign-in failed: the token answer carried no ID token")
        return _sign_in_failed("The identity provider sent no ID token (is `openid` a scope?).")
    roles = claims.get(services().settings.roles_claim) or []
    user = record_sign_in(
        services().database,
        SignIn(
            subject=str(claims["sub"]),
            email=str(claims.get("email") or ""),
            name=str(claims.get("name") or ""),
            roles=roles if isinstance(roles, list) else [],
            picture=str(claims.get("picture") or ""),
        ),
        services().settings.tier_roles,
    )
    if user.refused:
        LOGINS.labels("refused").inc()
        session.end()
        return _account_blocked()
    target = safe_next(session.get("next"))
    session.clear()
    sealed = services().tokens.vault.seal(TokenSet.from_response(token))
    session.sign_in(user.id, sealed_tokens=sealed, idp_sid=claims.get("sid"))
    LOGINS.labels("succeeded").inc()
    log.info("user %s signed in", user.id)
    return go(target)
