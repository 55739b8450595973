"""One provider's state, kept in ``app.extensions["devidp"]``: what its endpoints share, and the
knobs tests turn.

Every view finds it through :func:`current_idp`, the way Flask extensions keep theirs, so two
providers in one process (tests start many) never see each other's store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import ResourceProtector
from flask import current_app
from sqlalchemy import select

from .backchannel import BackchannelLogout, DeliveryLog
from .counters import RequestCounter
from .directory import DevIdpUser
from .exports import ExportJobs
from .keys import DEFAULT_GRACE_SECONDS
from .login_limits import Limit, LoginLimiter
from .management_http import Faults, RateLimiter
from .models import User
from .server import (
    DevAuthorizationServer,
    DevClient,
    DevTokenGenerator,
    Principal,
    create_resource_protector,
)
from .settings import DevIdpSettings
from .store import DevIdpStore

EXTENSION_KEY = "devidp"


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
    server: DevAuthorizationServer
    rate_limiter: RateLimiter
    faults: Faults = field(default_factory=Faults)
    token_requests: RequestCounter = field(default_factory=RequestCounter)
    #: Filled in after construction when not given, so ``DevIdp(settings, store, ...)`` still works.
    backchannel: BackchannelLogout = field(default=None)  # type: ignore[assignment]
    #: Failed sign-ins per account and per address (see :mod:`.login_limits`); tests may set
    #: ``login_limiter.clock`` to move time on. Also filled in when not given.
    login_limiter: LoginLimiter = field(default=None)  # type: ignore[assignment]
    #: Bearer-token checks: /userinfo's (tokens for the portal's API) and the Management API's.
    userinfo_bearer: ResourceProtector = field(init=False, repr=False)
    management_bearer: ResourceProtector = field(init=False, repr=False)
    export_jobs: ExportJobs = field(init=False, repr=False)

    def __post_init__(self) -> None:
        settings, store = self.settings, self.store
        if self.backchannel is None:  # built without create_dev_idp: a sender of its own
            object.__setattr__(self, "backchannel", BackchannelLogout(settings, store))
        if self.login_limiter is None:
            object.__setattr__(self, "login_limiter", make_login_limiter(settings, store))
        management = create_resource_protector(settings, store, settings.management_audience)
        object.__setattr__(self, "userinfo_bearer", create_resource_protector(settings, store))
        object.__setattr__(self, "management_bearer", management)
        object.__setattr__(self, "export_jobs", ExportJobs(store, settings.base_url))

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


def current_idp() -> DevIdp:
    """The provider answering the current request."""
    return current_app.extensions[EXTENSION_KEY]


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
