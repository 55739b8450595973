"""The root portal app: dashboard, sign-in, sign-out and the small JSON API.

Products are not routed here; DispatcherMiddleware sends `/<tier>/<name>/...` to each product's
Gate before this app sees the request.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, redirect, render_template, request, session
from werkzeug.exceptions import HTTPException

from auth.flask_session import DatabaseSessionInterface
from auth.gate import wants_json
from auth.oidc import ISSUER_UNREACHABLE, SIGN_IN_ERRORS, end_session_url, register_issuer
from auth.resolver import Identity
from auth.tiers import TIERS_DESCENDING, Tier
from db.users import SignIn, record_sign_in
from portal.discovery import Product, Status
from portal.services import Services

log = logging.getLogger(__name__)


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


def visible_products(services: Services, tier: Tier) -> list[tuple[Tier, list[Product]]]:
    """Products a user of `tier` may open, grouped by tier; broken ones only for devel and admin."""
    sees_broken = tier.opens(Tier.DEVEL)
    groups = []
    for group_tier in TIERS_DESCENDING:
        if not tier.opens(group_tier):
            continue
        cards = [
            p
            for p in services.discovery.products
            if p.info.tier is group_tier
            and (p.status is Status.LOADED or (p.status is Status.BROKEN and sees_broken))
        ]
        if cards:
            groups.append((group_tier, cards))
    return groups


def create_portal_app(services: Services, *, dev_users: list[tuple[str, str, str]]) -> Flask:
    settings = services.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.derived_secret("portal.flask"),
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PREFERRED_URL_SCHEME="https" if settings.secure_cookies else "http",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.session_interface = DatabaseSessionInterface(services.store, secure=settings.secure_cookies)
    oauth = register_issuer(
        app,
        issuer=settings.issuer,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=settings.oidc_scopes,
    )

    def identity() -> Identity | None:
        found = services.resolver.resolve(request.environ)
        return None if found is None or found.blocked else found

    def page(template: str, status: int = 200, **context: object) -> tuple[str, int]:
        who = identity()
        return (
            render_template(
                template,
                portal_user=who.user if who else None,
                portal_product=None,
                portal_logout_token=who.logout_token if who else None,
                portal_name=settings.site_name,
                **context,
            ),
            status,
        )

    def error_page(status: int, heading: str, message: str, **extra: str | None) -> Response:
        if wants_json(request.environ):
            response = jsonify(error=heading, message=message)
        else:
            body, _ = page(
                "portal/error.html",
                status=status,
                heading=heading,
                message=message,
                details=extra.get("details"),
                action_url=extra.get("action_url"),
                action_label=extra.get("action_label"),
            )
            response = Response(body, mimetype="text/html")
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    def dashboard() -> object:
        who = identity()
        if who is None:
            return page("portal/signin.html", login_url="/login", dev_users=dev_users)
        return page("portal/dashboard.html", groups=visible_products(services, who.user.tier))

    @app.get("/login")
    def login() -> object:
        target = safe_next(request.args.get("next"))
        canonical = urlsplit(settings.base_url).netloc
        if request.host != canonical:
            return redirect(f"{settings.base_url}/login?{urlencode({'next': target})}")
        if identity() is not None:
            return redirect(target)
        session["next"] = target
        try:
            return oauth.idp.authorize_redirect(settings.callback_url)
        except ISSUER_UNREACHABLE:
            log.exception("identity provider unreachable at sign-in")
            return error_page(
                503,
                "Sign-in is unavailable",
                "The identity provider cannot be reached right now. Please try again in a minute.",
                action_url="/login",
                action_label="Try again",
            )

    @app.get("/callback")
    def callback() -> object:
        try:
            token = oauth.idp.authorize_access_token()
        except SIGN_IN_ERRORS as error:
            log.warning("sign-in failed: %s", error)
            return error_page(
                400,
                "Sign-in failed",
                _describe(error),
                action_url="/login",
                action_label="Try signing in again",
            )
        except ISSUER_UNREACHABLE:
            log.exception("identity provider unreachable at callback")
            return error_page(
                503,
                "Sign-in is unavailable",
                "The identity provider cannot be reached right now. Please try again in a minute.",
                action_url="/login",
                action_label="Try again",
            )
        claims = token.get("userinfo") or {}
        roles = claims.get(settings.roles_claim) or []
        user = record_sign_in(
            services.database,
            SignIn(
                subject=str(claims["sub"]),
                email=str(claims.get("email") or ""),
                name=str(claims.get("name") or ""),
                roles=roles if isinstance(roles, list) else [],
            ),
        )
        if user.blocked:
            session.end()
            return error_page(
                403,
                "Account blocked",
                "Your account is blocked. Contact an administrator if you think this is a mistake.",
            )
        target = safe_next(session.get("next"))
        session.clear()
        session["id_token"] = token.get("id_token")
        session.sign_in(user.id)
        log.info("user %s signed in", user.id)
        return redirect(target)

    @app.get("/logout")
    def logout_confirm() -> object:
        if identity() is None:
            return redirect("/")
        return page("portal/logout.html")

    @app.post("/logout")
    def logout() -> object:
        raw_id = session.raw_id
        token = request.form.get("token", "")
        if raw_id is None:
            return redirect("/")
        if not services.store.check_logout_token(raw_id, token):
            return error_page(
                400,
                "Sign-out not confirmed",
                "This sign-out request did not come from a page of this portal. "
                "Use the Sign out button to sign out.",
                action_url="/logout",
                action_label="Sign out",
            )
        id_token = session.get("id_token")
        session.end()
        services.resolver.forget(raw_id)
        issuer_logout = end_session_url(
            oauth,
            id_token=id_token if isinstance(id_token, str) else None,
            return_to=settings.base_url + "/",
            client_id=settings.client_id,
        )
        return redirect(issuer_logout or "/")

    @app.get("/api/me")
    def api_me() -> object:
        who = identity()
        if who is None:
            return jsonify(
                error="unauthenticated", message="Sign in first.", login_url="/login"
            ), 401
        products = [
            {
                "tier": p.info.tier.value,
                "name": p.info.name,
                "title": p.info.title,
                "url": p.mount_path + "/",
                "status": p.status.value,
            }
            for _tier, cards in visible_products(services, who.user.tier)
            for p in cards
        ]
        return jsonify(user=who.user.to_json(), tier=who.user.tier.value, products=products)

    @app.get("/healthz")
    def healthz() -> object:
        return jsonify(status="ok")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return error_page(error.code or 500, error.name, error.description or "")

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("unhandled error in the portal")
        return error_page(
            500,
            "Something went wrong",
            "The portal hit an unexpected error. It has been logged; please try again.",
        )

    return app


def _describe(error: Exception) -> str:
    description = getattr(error, "description", None) or str(error) or type(error).__name__
    error_code = getattr(error, "error", None)
    if error_code == "access_denied":
        return "You cancelled the sign-in or the identity provider refused it."
    if "state" in description.lower() or "mismatching" in description.lower():
        return (
            "This sign-in link has expired or was already used. Start again from the sign-in page."
        )
    return f"The identity provider's answer could not be accepted ({description})."
