"""The root portal app: the dashboard, the small JSON API, and the sign-in views and hooks.

Products are not routed here; DispatcherMiddleware sends `/<tier>/<name>/...` to each product's
Gate before this app sees the request.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, session
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from auth.flask_session import DatabaseSessionInterface
from auth.oidc import register_issuer
from auth.sessions import EndReason
from auth.tiers import TIERS_DESCENDING, Tier
from auth.users import Identity
from kit.frame import frame
from portal.account import create_account
from portal.health import create_health
from portal.hooks import create_hooks
from portal.products.discovery import Product, Status
from portal.rate_limits import create_limiter
from portal.rendering import BLOCKED, AccountBlocked, Rendering
from portal.services import Services
from portal.signin import create_signin

log = logging.getLogger(__name__)


def visible_products(services: Services, who: Identity) -> list[tuple[Tier, list[Product]]]:
    """Products the user may open (by tier or by grant), grouped by tier; broken ones only for
    devel and admin users, who can do something about them."""
    sees_broken = who.user.tier.opens(Tier.DEVEL)
    groups = []
    for group_tier in TIERS_DESCENDING:
        cards = [
            p
            for p in services.discovery.products
            if p.info.tier is group_tier
            and who.opens(p.info)
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
        PREFERRED_URL_SCHEME="https" if settings.secure_cookies else "http",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.session_interface = DatabaseSessionInterface(
        services.store, settings.origins, sessionless=("/static/", "/healthz")
    )
    oauth = register_issuer(
        app,
        issuer=settings.issuer,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=settings.oidc_scopes,
        timeout=settings.idp_timeout,
    )
    app.jinja_env.globals["product_url"] = settings.origins.product_url
    rendering = Rendering(services)
    limiter = create_limiter(app, settings)
    app.register_blueprint(frame)
    app.register_blueprint(create_signin(rendering, oauth, limiter))
    app.register_blueprint(create_hooks(services))
    app.register_blueprint(create_account(rendering))
    app.register_blueprint(create_health(services))

    @app.before_request
    def session_store_reachable() -> None:
        """A session that couldn't be read because the database is down answers 503 (below)."""
        failure = getattr(session, "failure", None)
        if failure is not None:
            raise failure

    @app.after_request
    def personal_pages_stay_private(response: Response) -> Response:
        if g.get("identity") is not None:
            response.headers["Cache-Control"] = "private, no-store"
            response.vary.add("Cookie")
        return response

    @app.get("/")
    def dashboard() -> object:
        who = rendering.identity()
        if who is None:
            return rendering.page("portal/signin.html", login_url="/login", dev_users=dev_users)
        groups = visible_products(services, who)
        return rendering.page(
            "portal/dashboard.html", groups=groups, show_errors=who.user.tier.opens(Tier.DEVEL)
        )

    @app.get("/api/me")
    def api_me() -> object:
        who = rendering.identity()
        if who is None:
            return jsonify(
                error="unauthenticated", message="Sign in first.", login_url="/login"
            ), 401
        products = [
            {
                "tier": p.info.tier.value,
                "name": p.info.name,
                "title": p.info.title,
                "url": settings.origins.product_url(p.info.key),
                "status": p.status.value,
            }
            for _tier, cards in visible_products(services, who)
            for p in cards
        ]
        return jsonify(user=who.user.to_json(), tier=who.user.tier.value, products=products)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        original = getattr(error, "original_exception", None)
        if isinstance(error, InternalServerError) and isinstance(original, SQLAlchemyError):
            # raised after the view, while saving the session: still the database's outage
            return database_unavailable(original)
        return rendering.error(error.code or 500, error.name, error.description or "")

    @app.errorhandler(SQLAlchemyError)
    def database_unavailable(error: SQLAlchemyError) -> Response:
        log.warning("the database failed a portal request: %s", str(error).splitlines()[0][:300])
        return rendering.database_down()

    @app.errorhandler(AccountBlocked)
    def account_blocked(blocked: AccountBlocked) -> Response:
        """Told once: the session ends for good and the cookie goes, so the next request is
        an ordinary anonymous one (the sign-in page)."""
        if blocked.identity.session_id:
            services.resolver.end_session(blocked.identity.session_id, EndReason.BLOCK_SHOWN)
        session.end()
        return rendering.error(403, "Account blocked", BLOCKED)

    @app.errorhandler(Exception)
    def unexpected_error(_error: Exception) -> Response:
        log.exception("unhandled error in the portal")
        return rendering.error(
            500,
            "Something went wrong",
            "The portal hit an unexpected error. It has been logged; please try again.",
        )

    return app
