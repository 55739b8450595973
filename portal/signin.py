"""Sign-in and sign-out: /login, /callback and /logout, through authlib's OpenID Connect client."""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from authlib.integrations.flask_client import OAuth
from flask import Blueprint, redirect, request, session
from flask_limiter import Limiter

from auth.cookies import cookie_values
from auth.handoff import HANDOFF_PATH
from auth.hosts import normalize_host
from auth.metrics import LOGINS
from auth.oidc import ISSUER_UNREACHABLE, SIGN_IN_ERRORS, end_session_url, id_token_claims
from auth.user_tokens import TokenSet
from auth.users import SignIn, record_sign_in
from portal.rendering import Rendering

log = logging.getLogger(__name__)

CANONICAL_HOP = "canonical"
TAMPERED_SIGN_OUT = (
    "A page had set a second sign-in cookie for this site (possibly a product's script); it "
    "has been removed."
)


def safe_next(value: str | None) -> str:
    """A path on this site to return to after sign-in; anything else (hosts, schemes) is `/`."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


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


def create_signin(rendering: Rendering, oauth: OAuth, limiter: Limiter) -> Blueprint:
    services = rendering.services
    settings = services.settings
    signin = Blueprint("signin", __name__)
    per_address = limiter.shared_limit(settings.login_rate_limit or "1000/second", "sign-in")

    def sign_in_failed(message: str) -> object:
        return rendering.error(
            400, "Sign-in failed", message, action_url="/login", action_label="Try signing in again"
        )

    @signin.get("/login")
    @per_address
    def login() -> object:
        target = safe_next(request.args.get("next"))
        canonical = urlsplit(settings.base_url).netloc
        if request.host != canonical:
            if request.args.get(CANONICAL_HOP):
                log.error("requests reach the portal as %s, not %s", request.host, canonical)
                return rendering.error(
                    500,
                    "The portal's address is misconfigured",
                    f"PORTAL_BASE_URL says {settings.base_url}, but this request came to "
                    f"{request.host}. An operator needs to correct PORTAL_BASE_URL or the proxy.",
                )
            query = urlencode({"next": target, CANONICAL_HOP: "1"})
            return redirect(f"{settings.base_url}/login?{query}")
        if rendering.identity() is not None:
            return redirect(target)
        if not services.metadata.reachable():
            return rendering.issuer_down()
        session["next"] = target
        try:
            return oauth.idp.authorize_redirect(settings.callback_url)
        except ISSUER_UNREACHABLE:
            log.exception("identity provider unreachable at sign-in")
            return rendering.issuer_down()

    @signin.get("/callback")
    @per_address
    def callback() -> object:
        try:
            token = oauth.idp.authorize_access_token(
                claims_options=id_token_claims(oauth.idp.load_server_metadata(), settings.client_id)
            )
        except SIGN_IN_ERRORS as error:
            LOGINS.labels("failed").inc()
            log.warning(
                "sign-in failed: %s %r",
                getattr(error, "error", None) or type(error).__name__,
                getattr(error, "description", None) or str(error),
            )
            return sign_in_failed(describe(error))
        except ISSUER_UNREACHABLE:
            log.exception("identity provider unreachable at callback")
            return rendering.issuer_down()
        claims = token.get("userinfo") or {}
        if not claims.get("sub"):
            log.warning("sign-in failed: the token answer carried no ID token")
            return sign_in_failed("The identity provider sent no ID token (is `openid` a scope?).")
        roles = claims.get(settings.roles_claim) or []
        user = record_sign_in(
            services.database,
            SignIn(
                subject=str(claims["sub"]),
                email=str(claims.get("email") or ""),
                name=str(claims.get("name") or ""),
                roles=roles if isinstance(roles, list) else [],
                picture=str(claims.get("picture") or ""),
            ),
        )
        if user.refused:
            LOGINS.labels("refused").inc()
            session.end()
            return rendering.error(
                403,
                "Account blocked",
                "Your account is blocked or was removed. Contact an administrator if you think "
                "this is a mistake.",
            )
        target = safe_next(session.get("next"))
        session.clear()
        sealed = services.tokens.vault.seal(TokenSet.from_response(token))
        session.sign_in(user.id, sealed_tokens=sealed, idp_sid=claims.get("sid"))
        LOGINS.labels("succeeded").inc()
        log.info("user %s signed in", user.id)
        return redirect(target)

    @signin.get("/logout")
    def logout_confirm() -> object:
        if rendering.identity() is None:
            return redirect("/")
        return rendering.page("portal/logout.html")

    @signin.get(HANDOFF_PATH)
    def handoff() -> object:
        """Host mode: a product's host has no cookie yet; send it one for this session."""
        key = request.args.get("product", "")
        known = {p.info.key for p in services.discovery.mounted()}
        if not settings.origins.host_mode or key not in known:
            return rendering.error(404, "Not found", "There is no such product to open.")
        who = rendering.identity()
        if who is None:
            return redirect("/login?" + urlencode({"next": request.full_path}))
        response = redirect(services.handoffs.issue(who.session_id, key, request.args.get("next")))
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @signin.post("/logout")
    def logout() -> object:
        if session.tampered:
            return sign_out_tampered()
        raw_id = session.raw_id
        if raw_id is None:
            return redirect("/")
        if not services.store.check_logout_token(raw_id, request.form.get("token", "")):
            return rendering.error(
                400,
                "Sign-out not confirmed",
                "This sign-out request did not come from a page of this portal. "
                "Use the Sign out button to sign out.",
                action_url="/logout",
                action_label="Sign out",
            )
        tokens = services.tokens.tokens(raw_id)
        services.resolver.end_session(raw_id)
        services.sockets.close_session(raw_id, "signed out")
        session.end()
        issuer_logout = end_session_url(
            oauth,
            id_token=tokens.id_token if tokens else None,
            return_to=settings.base_url + "/",
            client_id=settings.client_id,
            auth0_domain=settings.auth0_domain,
        )
        return redirect(issuer_logout or "/")

    def sign_out_tampered() -> object:
        """Sign-out while a page has planted a second session cookie: end the session whose
        sign-out token the form carries, clear every copy, and say what happened."""
        token = request.form.get("token", "")
        host = normalize_host(request.host, settings.origins.scheme)
        raw_ids = [
            services.store.id_from_cookie(value, host)
            for value in cookie_values(request.environ, settings.origins.cookie_name)
        ]
        mine = [r for r in raw_ids if r and services.store.check_logout_token(r, token)]
        session.end()
        for raw_id in mine:
            services.resolver.end_session(raw_id)
            services.sockets.close_session(raw_id, "signed out")
        if not mine:
            return rendering.error(
                400,
                "Sign-out not confirmed",
                TAMPERED_SIGN_OUT + " Sign in again, then sign out with the Sign out button.",
            )
        log.warning("a sign-out carried %d session cookies; ended the confirmed one", len(raw_ids))
        message = TAMPERED_SIGN_OUT + " You are signed out."
        return rendering.error(200, "You are signed out", message)

    return signin
