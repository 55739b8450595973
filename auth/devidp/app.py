"""Assemble the development identity provider as one Flask app, mountable anywhere."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from .management_api import register_management_api
from .management_http import Faults, RateLimiter
from .models import User
from .server import (
    DevClient,
    DevTokenGenerator,
    Principal,
    create_authorization_server,
    create_resource_protector,
)
from .settings import PRODUCTION_REFUSAL, DevIdpRefused, DevIdpSettings
from .store import DevIdpStore
from .views import register_views

EXTENSION_KEY = "devidp"


class MountedCookieSession(SecureCookieSessionInterface):
    """Scope the provider's cookie to its own mount (``/idp``), so it never reaches the portal's
    pages and the portal's cookie of the same site is never overwritten."""

    def get_cookie_path(self, app: Flask) -> str:
        return request.script_root or "/"


@dataclass(frozen=True)
class DevIdp:
    """What ``app.extensions["devidp"]`` holds.

    Tests reach the Management API's knobs here: ``rate_limiter.limit`` (requests per second,
    0 = unlimited) changes the limit at runtime, and ``faults`` (test-only) makes chosen requests
    fail, answer malformed JSON or stall; see :class:`~auth.devidp.management_http.Faults`.
    """

    settings: DevIdpSettings
    store: DevIdpStore
    server: AuthorizationServer
    rate_limiter: RateLimiter
    faults: Faults = field(default_factory=Faults)

    def access_token_for(self, email: str, scope: str = "openid profile email") -> str:
        """The access token this user's sign-in would get, without a browser (`portal token`)."""
        with self.store.sessions() as db:
            subject = db.scalar(select(User.subject).where(User.email == email.strip().lower()))
        user = self.store.get_user(subject) if subject else None
        if user is None or user.blocked:
            raise LookupError(f"no active user {email!r} at the development identity provider")
        generator = DevTokenGenerator(self.settings, self.store)
        principal = Principal(user, sid="", auth_time=int(time.time()))
        token = generator.generate(
            "authorization_code",
            DevClient(self.settings),
            principal,
            scope,
            include_refresh_token=False,
        )
        return token["access_token"]


def create_dev_idp(settings: DevIdpSettings) -> Flask:
    """The provider as a WSGI app; refuses (DevIdpRefused) when ``settings.production`` is set."""
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
    store.seed_demo_users()
    server = create_authorization_server(app, settings, store)
    register_views(app, settings, store, server, create_resource_protector(settings, store))
    idp = DevIdp(settings, store, server, RateLimiter(settings.management_rate_limit))
    register_management_api(app, settings, store, idp.faults, idp.rate_limiter)
    app.extensions[EXTENSION_KEY] = idp
    return app


def get_store(app: Flask) -> DevIdpStore:
    """The store of a provider made by :func:`create_dev_idp` (same as ``extensions["devidp"]``)."""
    return app.extensions[EXTENSION_KEY].store
