"""The portal's own Flask app: sessions, the identity provider's client, its views and errors.

The whole site becomes this app's `wsgi_app` (see `portal.application`), so Flask's own tools
(`flask --app portal routes`, `flask shell`, `flask run`) work on the portal as on any Flask app.
"""

from __future__ import annotations

from flask import Flask

from auth.flask_session import DatabaseSessionInterface
from auth.oidc import register_issuer
from kit.frame import frame
from portal.rate_limits import create_limiter
from portal.services import Services
from portal.views.account import account
from portal.views.api_docs import api_docs
from portal.views.backchannel import backchannel
from portal.views.dashboard import dashboard
from portal.views.errors import register_error_handlers
from portal.views.health import health, readiness_checks
from portal.views.hooks import hooks
from portal.views.keys import keys
from portal.views.signin import signin
from portal.views.signout import signout

#: Paths that never need a session: no database read for them. Probes and scrapes above all:
#: one that carried a cookie would wait on the database the check is meant to time.
SESSIONLESS = ("/static/", "/healthz", "/readyz", "/metrics", "/.well-known/")


def build_portal_app(services: Services, *, dev_users: list[tuple[str, str, str]]) -> Flask:
    """`dev_users` are shown on the sign-in page (the development provider's demo users)."""
    settings = services.settings
    app = Flask("portal")
    # werkzeug's own redirect (`/api//me` -> `/api/me`) would write a Location outside
    # `auth.locations`; the portal's routes are few and exact, so a near miss is a 404. (No
    # route but `/` ends in a slash, so the strict-slash redirect has nothing to mend.)
    app.url_map.merge_slashes = False
    app.config.update(
        SECRET_KEY=settings.derived_secret("portal.flask"),
        PREFERRED_URL_SCHEME="https" if settings.secure_cookies else "http",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.extensions["portal"] = services
    app.extensions["portal.dev_users"] = dev_users
    app.session_interface = DatabaseSessionInterface(
        services.store, settings.origins, sessionless=SESSIONLESS
    )
    register_issuer(
        app,
        issuer=settings.issuer,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scopes=settings.oidc_scopes,
        timeout=settings.idp_timeout,
    )
    app.jinja_env.globals["product_url"] = settings.origins.product_url
    readiness_checks(app, services)
    create_limiter(app, settings).shared_limit(
        settings.login_rate_limit or "1000/second", "sign-in"
    )(signin)
    for blueprint in (
        frame,
        dashboard,
        signin,
        signout,
        account,
        backchannel,
        hooks,
        health,
        keys,
        api_docs,
    ):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
