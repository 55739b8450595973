"""Every setting of the portal, declared once: its type, default, environment variable (the
field's alias), group and help. `portal.settings.model` adds how values are read and checked;
`portal.settings.reference` renders these declarations as the settings reference and
`.env.example`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from auth.tier_roles import DEFAULT_TIER_ROLES, TierRoles
from portal.settings.derived import DEFAULT_BASE_URL

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_ADMIN_SCOPE = "portal:admin"

CORE = "Core"
DATABASE = "Database"
SIGN_IN = "Sign-in (Auth0 or any OpenID Connect issuer)"
MANAGEMENT = "Auth0 Management API (user sync, admin changes)"
SESSIONS = "Sessions"
PRODUCTS = "Products"
NODES = "Several nodes"
DEADLINES = "Deadlines (seconds) for what the portal depends on"
PROXY = "Behind a proxy"
GUNICORN = "gunicorn"
MONITORING = "Monitoring and logs"
RUNTIME = "Runtime files"
DEVELOPMENT = "Development only (the built-in identity provider refuses to run in production)"


def setting(
    default: Any,
    env: str,
    help: str,
    group: str,
    *,
    example: str | None = None,
    shown_default: str | None = None,
    secret: bool = False,
    random: bool = False,
    **constraints: Any,
) -> Any:
    """One setting. `example` is the value `.env.example` sets for a docker compose deployment
    (otherwise it shows the default, commented out); `shown_default` describes a default worked
    out at start; `secret` settings are kept out of reprs, and `random` ones (secrets too) are
    refused in production when short or guessable."""
    extra = {
        "group": group,
        "example": example,
        "shown_default": shown_default,
        "secret": secret or random,
        "random": random,
    }
    return Field(
        default,
        alias=env,
        description=help,
        json_schema_extra={k: v for k, v in extra.items() if v not in (None, False)},
        repr=not (secret or random),
        **constraints,
    )


Words = Annotated[tuple[str, ...], NoDecode]
Seconds = Annotated[float, Field(ge=0)]
Deadline = Annotated[float, Field(gt=0)]
Positive = Annotated[int, Field(gt=0)]
Count = Annotated[int, Field(ge=0)]


class Declared(BaseSettings):
    """What every part of the declarations shares: how the model reads its input."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=True,
        validate_default=False,
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        arbitrary_types_allowed=True,
        env_file=PROJECT_ROOT / ".env",
    )


class AccessSettings(Declared):
    """Who may sign in, how, and for how long: the settings of the portal's front door."""

    # --- Core
    environment: Literal["development", "production"] = setting(
        "development",
        "PORTAL_ENV",
        "`production` refuses to start on a weak secret, without an issuer, client or database, "
        "or on a schema behind the release.",
        CORE,
        example="production",
    )
    secret_key: str = setting(
        "",
        "SECRET_KEY",
        "Signs session ids; at least 32 random characters. Required in "
        "production; in development a random one is kept in the instance folder.",
        CORE,
        example="",
        shown_default="random, kept in the instance folder",
        random=True,
    )
    identity_key: str = setting(
        "",
        "PORTAL_IDENTITY_KEY",
        "The RSA private key (PEM, 2048 bits or more) that signs the identity tokens process and "
        "upstream products get, on one line with \\n for its line breaks: `openssl genpkey "
        "-algorithm RSA -pkeyopt rsa_keygen_bits:3072 | awk '{printf \"%s\\\\n\", $0}'`. "
        "Required in production; in development one is made and kept in the instance folder.",
        CORE,
        example="",
        shown_default="made once, kept in the instance folder",
        secret=True,
    )
    base_url: str = setting(
        "",
        "PORTAL_BASE_URL",
        "The public origin, https in production, e.g. https://portal.example.org (the callback "
        "registered at the identity provider is <this>/callback). Required in production.",
        CORE,
        example="",
        shown_default=f"{DEFAULT_BASE_URL}, or http://<PORTAL_HOST_DOMAIN>",
    )
    site_name: str = setting("Portal", "PORTAL_SITE_NAME", "The name in the page header.", CORE)
    host_domain: str = setting(
        "",
        "PORTAL_HOST_DOMAIN",
        "Host mode: every product on a host of its own, <name>--<tier>.<this domain>, with "
        "host-only cookies, so no product's script can act on another product or the admin "
        "console. Needs one wildcard DNS name and one wildcard certificate "
        "(*.portal.example.org); the portal itself is served on the domain's own host "
        "(PORTAL_BASE_URL must name it). Unset: path mode, one origin.",
        CORE,
        example="portal.example.org",
    )
    trusted_hosts: Words = setting(
        (),
        "PORTAL_TRUSTED_HOSTS",
        "Host names requests may carry (space-separated; a leading dot allows subdomains); "
        "others get 400.",
        CORE,
        shown_default="PORTAL_BASE_URL's host, and in host mode .<PORTAL_HOST_DOMAIN>",
    )

    # --- Database
    database_url: str = setting(
        "",
        "DATABASE_URL",
        "The database, e.g. mysql+pymysql://portal:<password>@db.internal:3306/portal"
        "?charset=utf8mb4. Required in production (docker compose builds it from "
        "MARIADB_PASSWORD).",
        DATABASE,
        shown_default="SQLite in the instance folder",
        secret=True,
    )
    allow_sqlite: bool = setting(
        False,
        "PORTAL_ALLOW_SQLITE",
        "SQLite is refused in production (one machine only, no second node); set this to run "
        "on one machine anyway.",
        DATABASE,
    )

    # --- Sign-in
    auth0_domain: str = setting(
        "",
        "AUTH0_DOMAIN",
        "The Auth0 tenant, e.g. tenant.eu.auth0.com (a custom domain works too): short for the "
        "OIDC_ISSUER https://tenant.eu.auth0.com/. Production needs this or OIDC_ISSUER.",
        SIGN_IN,
        example="",
    )
    oidc_issuer: str = setting(
        "",
        "OIDC_ISSUER",
        "Any other OpenID Connect issuer: its URL. Unset with AUTH0_DOMAIN: the built-in "
        "development identity provider.",
        SIGN_IN,
    )
    oidc_client_id: str = setting(
        "",
        "OIDC_CLIENT_ID",
        "The portal's application (Regular Web Application) at the issuer. "
        "Required with an issuer.",
        SIGN_IN,
        example="",
    )
    oidc_client_secret: str = setting(
        "",
        "OIDC_CLIENT_SECRET",
        "That application's secret. Required in production.",
        SIGN_IN,
        example="",
        random=True,
    )
    oidc_audience: str = setting(
        "",
        "OIDC_AUDIENCE",
        "The API audience bearer access tokens must carry; unset turns bearer tokens off.",
        SIGN_IN,
    )
    oidc_scopes: str = setting(
        "openid profile email offline_access",
        "OIDC_SCOPES",
        "The scopes sign-in asks for; must include openid.",
        SIGN_IN,
    )
    admin_scope: str = setting(
        DEFAULT_ADMIN_SCOPE,
        "PORTAL_ADMIN_SCOPE",
        "The permission a bearer token's scope must hold to open the admin console's API; "
        "sign-in (OIDC_SCOPES) must never ask for it.",
        SIGN_IN,
    )
    roles_claim: str = setting(
        "https://portal/roles",
        "PORTAL_ROLES_CLAIM",
        "The namespaced claim the post-login Action fills with the user's roles.",
        SIGN_IN,
    )
    tier_roles: Annotated[TierRoles, NoDecode] = setting(
        DEFAULT_TIER_ROLES,
        "PORTAL_TIER_ROLES",
        "Which role (or group) names give which tier, when the tenant's roles are not called "
        "admin, devel and ea: `;` between tiers, `,` between the names of one tier; the first "
        "is assigned, e.g. admin=Portal Admins;devel=researchers-devel;ea=researchers-ea.",
        SIGN_IN,
        shown_default="admin=admin;devel=devel;ea=ea",
    )
    login_rate_limit: str = setting(
        "20/minute",
        "PORTAL_LOGIN_RATE_LIMIT",
        "Sign-in and callback requests allowed per client address (Flask-Limiter syntax); "
        "empty: no limit.",
        SIGN_IN,
    )

    # --- Auth0 Management API
    management_client_id: str = setting(
        "",
        "AUTH0_MANAGEMENT_CLIENT_ID",
        "The machine-to-machine application; without it the admin console cannot change Auth0.",
        MANAGEMENT,
        example="",
    )
    management_client_secret: str = setting(
        "",
        "AUTH0_MANAGEMENT_CLIENT_SECRET",
        "That application's secret.",
        MANAGEMENT,
        example="",
        random=True,
    )
    auth0_management_domain: str = setting(
        "",
        "AUTH0_MANAGEMENT_DOMAIN",
        "The tenant's own domain, when sign-in uses a custom domain.",
        MANAGEMENT,
        shown_default="AUTH0_DOMAIN",
    )
    webhook_secret: str = setting(
        "",
        "PORTAL_WEBHOOK_SECRET",
        "The bearer token Auth0 sends to POST /api/hooks/auth0 (at least 32 characters); "
        "unset: off.",
        MANAGEMENT,
        random=True,
    )
    sync_batch_size: Positive = setting(
        500, "PORTAL_SYNC_BATCH_SIZE", "Users per transaction in a sync.", MANAGEMENT
    )
    incremental_sync_minutes: Count = setting(
        0,
        "PORTAL_INCREMENTAL_SYNC_MINUTES",
        "Minutes between background incremental syncs; 0 is off.",
        MANAGEMENT,
    )

    # --- Sessions
    session_idle_minutes: Positive = setting(
        120, "SESSION_IDLE_MINUTES", "A session unused this long ends.", SESSIONS
    )
    session_max_hours: Positive = setting(
        12, "SESSION_MAX_HOURS", "A session ends this long after sign-in, used or not.", SESSIONS
    )
    identity_cache_seconds: Seconds = setting(
        5.0,
        "PORTAL_IDENTITY_CACHE_SECONDS",
        "How long a worker trusts what it read about a session and user (a block or tier "
        "change takes effect on every node within this time).",
        SESSIONS,
    )
