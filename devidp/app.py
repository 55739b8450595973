"""Assemble the development identity provider as one Flask app, mountable anywhere."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from .backchannel import BackchannelLogout, DeliveryLog
from .counters import RequestCounter
from .directory import DevIdpUser
from .keys import DEFAULT_GRACE_SECONDS
from .login_limits import Limit, LoginLimiter
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
    fail, answer malformed JSON or stall; see :class:`~devidp.management_http.Faults`.

    Also for tests, counted in this process only: ``token_requests`` (token endpoint calls by
    ``grant_type``) and ``backchannel_deliveries`` (every logout token POSTed to the portal).
    ``backchannel.transport`` / ``backchannel.timeout`` change how logout tokens are sent.
    """

    settings: DevIdpSettings
    store: DevIdpStore
    server: AuthorizationServer
    rate_limiter: RateLimiter
    faults: Faults = field(default_factory=Faults)
    token_requests: RequestCounter = field(default_factory=RequestCounter)
    #: Filled in after construction when not given, so ``DevIdp(settings, store, ...)`` still works.
    backchannel: BackchannelLogout = field(default=None)  # type: ignore[assignment]
    #: Failed sign-ins per account and per address (see :mod:`.login_limits`); tests may set
    #: ``login_limiter.clock`` to move time on. Also filled in when not given.
    login_limiter: LoginLimiter = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.backchannel is None:  # built without create_dev_idp: a sender of its own
            object.__setattr__(self, "backchannel", BackchannelLogout(self.settings, self.store))
        if self.login_limiter is None:
            object.__setattr__(self, "login_limiter", make_login_limiter(self.settings, self.store))

    @property
    def backchannel_deliveries(self) -> DeliveryLog:
        """Every back-channel logout this process tried: uri, sid, token, status or error."""
        return self.backchannel.deliveries

    def end_provider_sessions(self, subject: str) -> int:
        """Sign ``subject`` out at the provider everywhere, as if from another application:
        every provider session ends and the portal gets one logout token per session.
        Returns how many sessions ended (0 when none was active)."""
        return self.backchannel.end_sessions(subject)

    def rotate_keys(self, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> str:
        """Sign with a new key from now on (returns its kid); the previous key stays in the JWKS
        for ``grace_seconds`` and is then retired, for every process sharing the store."""
        return self.store.rotate_signing_key(grace_seconds)

    def active_user(self, email: str) -> DevIdpUser:
        """The provider's user with this email; LookupError when there is none or it is blocked."""
        with self.store.sessions() as db:
            subject = db.scalar(select(User.subject).where(User.email == email.strip().lower()))
        user = self.store.get_user(subject) if subject else None
        if user is None or user.blocked:
            raise LookupError(f"no active user {email!r} at the development identity provider")
        return user

    def access_token_for(self, email: str, scope: str = "openid profile email") -> str:
        """The access token this user's sign-in with ``scope`` would get, without a browser
        (`portal token`): scopes the user may not have are dropped, as at sign-in."""
        generator = DevTokenGenerator(self.settings, self.store)
        principal = Principal(self.active_user(email), sid="", auth_time=int(time.time()))
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
    idp = DevIdp(
        settings,
        store,
        server,
        RateLimiter(settings.management_rate_limit),
        backchannel=BackchannelLogout(settings, store),
    )
    register_views(
        app,
        settings,
        store,
        server,
        create_resource_protector(settings, store),
        idp.backchannel,
        idp.token_requests,
        idp.login_limiter,
    )
    register_management_api(app, settings, store, idp.faults, idp.rate_limiter)
    app.extensions[EXTENSION_KEY] = idp
    return app


def make_login_limiter(settings: DevIdpSettings, store: DevIdpStore) -> LoginLimiter:
    """The login form's limits, counted in the store every worker shares."""
    return LoginLimiter(
        store.sessions,
        per_account=Limit(
            settings.login_failures_per_account, settings.login_account_window_seconds
        ),
        per_address=Limit(
            settings.login_failures_per_address, settings.login_address_window_seconds
        ),
    )


def get_store(app: Flask) -> DevIdpStore:
    """The store of a provider made by :func:`create_dev_idp` (same as ``extensions["devidp"]``)."""
    return app.extensions[EXTENSION_KEY].store
