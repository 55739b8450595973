"""What the development identity provider is told, and the people it knows out of the box.

The settings mirror what an Auth0 tenant is configured with (one application, its callback and
logout URLs, an API audience, a roles claim added by a post-login Action), so the portal's
production code path meets the same shape of answers locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

PRODUCTION_REFUSAL = (
    "the development identity provider refuses to run in production; "
    "configure OIDC_ISSUER / AUTH0_DOMAIN"
)


#: How applications authenticate at the token endpoint, as an Auth0 tenant allows.
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class DevIdpRefused(RuntimeError):
    """Raised instead of starting a provider whose demo passwords are printed on its login page."""


@dataclass(frozen=True)
class DevIdpSettings:
    issuer: str
    database_url: str
    secret_key: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    roles_claim: str = "https://portal/roles"
    audience: str = "portal-api"
    #: The permission of the portal's API that admin products want; only the admin role holds it.
    admin_scope: str = "portal:admin"
    access_token_ttl: int = 3600
    id_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 24 * 3600
    production: bool = False
    #: What this tenant calls the tier roles, as (own name, tenant's name) pairs such as
    #: ("admin", "Portal Admins"): the demo users hold the tenant's names. Unnamed ones stay.
    role_names: tuple[tuple[str, str], ...] = ()
    #: The machine-to-machine application allowed to call ``/api/v2``; empty = no Management API.
    management_client_id: str = ""
    management_client_secret: str = ""
    #: Management API requests per second per token holder, like a tenant's limit; 0 = unlimited.
    management_rate_limit: int = 0
    #: The portal's OpenID Connect Back-Channel Logout endpoint; empty = send no logout tokens.
    backchannel_logout_uri: str = ""
    #: Failed sign-ins allowed per email per window before its form answers 429; 0 = no limit.
    login_failures_per_account: int = 5
    login_account_window_seconds: int = 5 * 60
    #: Failed sign-ins allowed per client address per window (any emails); 0 = no limit.
    login_failures_per_address: int = 30
    login_address_window_seconds: int = 60

    @property
    def base_url(self) -> str:
        """The issuer without a trailing slash, so endpoint URLs never contain ``//``."""
        return self.issuer.rstrip("/")

    @property
    def management_audience(self) -> str:
        """What a Management API token is for, as in Auth0: ``https://<tenant>/api/v2/``."""
        return f"{self.base_url}/api/v2/"

    def role_name(self, role: str) -> str:
        """The tenant's name for the tier role ``role`` (admin, devel, ea)."""
        return dict(self.role_names).get(role, role)

    @property
    def management_enabled(self) -> bool:
        return bool(self.management_client_id and self.management_client_secret)


class DemoUser(NamedTuple):
    """A plain tuple underneath, so ``email, password, roles, name = user`` works."""

    email: str
    password: str
    roles: tuple[str, ...]
    name: str

    @property
    def subject(self) -> str:
        """Auth0-shaped, stable across restarts, so the portal's user table keeps its rows."""
        return "auth0|demo-" + self.email.split("@", 1)[0]


#: One person per tier, shown on the login page and in the README.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@example.com", "admin", ("admin",), "Ada Admin"),
    DemoUser("devel@example.com", "devel", ("devel",), "Dev Developer"),
    DemoUser("ea@example.com", "ea", ("ea",), "Eve Early"),
    DemoUser("stable@example.com", "stable", (), "Sam Stable"),
)
