"""Assemble the development identity provider as one Flask app, mountable anywhere."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from . import endpoints, errors, login, management_api
from .backchannel import BackchannelLogout
from .management_http import RateLimiter
from .server import create_authorization_server
from .settings import PRODUCTION_REFUSAL, DevIdpRefused, DevIdpSettings
from .state import EXTENSION_KEY, DevIdp
from .store import DevIdpStore


class MountedCookieSession(SecureCookieSessionInterface):
    """Scope the provider's cookie to its own mount (``/idp``), so it never reaches the portal's
    pages and the portal's cookie of the same site is never overwritten."""

    def get_cookie_path(self, app: Flask) -> str:
        return request.script_root or "/"


def create_dev_idp(settings: DevIdpSettings) -> Flask:
    """The provider as a WSGI app; refuses (DevIdpRefused) when ``settings.production`` is set.

    The Management API's guard (faults, token, rate limit) stands in front of every path; its
    endpoints exist only when the management application is configured."""
    if settings.production:
        raise DevIdpRefused(PRODUCTION_REFUSAL)
    app = Flask(__name__.rsplit(".", 1)[0])
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="devidp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.issuer.startswith("https://"),
        WTF_CSRF_SSL_STRICT=False,
    )
    app.session_interface = MountedCookieSession()
    store = DevIdpStore(settings.database_url)
    store.seed_demo_users(settings.role_name)
    server = create_authorization_server(app, settings, store)
    server.register_endpoint(login.EndSession)
    app.extensions[EXTENSION_KEY] = DevIdp(
        settings,
        store,
        server,
        RateLimiter(settings.management_rate_limit),
        backchannel=BackchannelLogout(settings, store),
    )
    for blueprint in (login.blueprint, endpoints.blueprint, errors.blueprint):
        app.register_blueprint(blueprint)
    app.register_blueprint(management_api.guard)
    if settings.management_enabled:
        app.register_blueprint(management_api.api)
        app.register_blueprint(management_api.downloads)
    return app


def get_store(app: Flask) -> DevIdpStore:
    """The store of a provider made by :func:`create_dev_idp` (same as ``extensions["devidp"]``)."""
    return app.extensions[EXTENSION_KEY].store
