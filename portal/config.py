"""Settings, read once from the environment (and a `.env` file in development).

Every knob an operator can turn is a field of :class:`Settings`, named after its environment
variable, so the README's settings table and this module cannot drift apart. Defaults give a
working development portal with no setup: a SQLite file, the built-in identity provider and the
sample products. Each value is read by `portal.config_env` (which refuses malformed ones by
name) and checked by `portal.config_checks` (production refuses to start on a missing or weak
secret rather than run insecurely).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from auth.hosts import Origins
from auth.identity_headers import IdentityHeaders
from auth.identity_token import generate_key_pem
from auth.product_paths import BlockPattern, parse_blocks
from auth.tier_roles import DEFAULT_TIER_ROLES, TierRoles
from portal.config_checks import (
    DEFAULT_ADMIN_SCOPE,
    admin_scope,
    base_url_from,
    check_production,
    check_webhook_secret,
    host_domain,
    identity_key,
    issuer_from,
    sign_in_scopes,
)
from portal.config_env import (
    ConfigError,
    count,
    deadline,
    development_secret,
    flag,
    header_patterns,
    kept_in_instance,
    log_format,
    networks,
    positive_int,
    seconds,
    tier_roles,
)
from portal.forward_auth_sources import LOOPBACK

__all__ = ["ConfigError", "Settings", "load_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DEV_IDP_MOUNT = "/idp"
DEV_CLIENT_ID = "portal-dev"
DEV_MANAGEMENT_CLIENT_ID = "portal-dev-management"
DEV_API_AUDIENCE = "portal-api"


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    secret_key: str = ""
    #: PEM of the RSA key that signs identity tokens (`auth.identity_token`); see identity_key_pem.
    identity_key: str = field(default="", repr=False)
    database_url: str = ""
    base_url: str = DEFAULT_BASE_URL
    instance_path: Path = PROJECT_ROOT / "instance"
    apps_dir: Path = PROJECT_ROOT / "apps"
    apps_patterns: tuple[str, ...] = ()
    #: Paths this deployment removes (`PORTAL_BLOCK`): they answer 404 to everyone.
    blocked_paths: tuple[BlockPattern, ...] = ()
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile email offline_access"
    admin_scope: str = DEFAULT_ADMIN_SCOPE
    roles_claim: str = "https://portal/roles"
    tier_roles: TierRoles = DEFAULT_TIER_ROLES
    session_idle_minutes: int = 120
    session_max_hours: int = 12
    identity_cache_seconds: float = 5.0
    trusted_proxies: int = 0
    site_name: str = "Portal"
    dev_idp_database_url: str = ""
    dev_idp_management_rate_limit: int = 0
    dev_idp_access_token_ttl: int = 3600
    dev_idp_refresh_token_ttl: int = 30 * 24 * 3600
    management_client_id: str = ""
    management_client_secret: str = ""
    webhook_secret: str = ""
    sync_batch_size: int = 500
    websocket_origins: tuple[str, ...] = ()
    incremental_sync_minutes: int = 0
    oidc_audience: str = ""
    auth0_domain: str = ""
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_token: str = ""
    #: Proxies whose requests /auth/check answers (`PORTAL_FORWARD_AUTH_SOURCES`).
    forward_auth_sources: tuple[str, ...] = LOOPBACK
    #: A site's own identity header names or globs, stripped with the table's.
    identity_header_names: tuple[str, ...] = ()
    #: gunicorn's listening address (`PORTAL_BIND`): no product may name it as its server.
    bind: str = "127.0.0.1:8000"
    json_logs: bool = False
    redis_url: str = ""
    login_rate_limit: str = "20/minute"
    apps_recheck_seconds: float = 10.0
    import_timeout_seconds: float = 10.0
    ready_deadline_seconds: float = 0.8
    host_domain: str = ""
    trusted_hosts: tuple[str, ...] = ()
    allow_sqlite: bool = False
    management_domain_issuer: str = ""
    broadcast_prefix: str = "portal"
    #: Deadlines (seconds) for every outside dependency: none may hold a request for longer.
    database_connect_timeout: float = 5.0
    database_read_timeout: float = 10.0
    database_write_timeout: float = 10.0
    redis_timeout: float = 1.0
    idp_timeout: float = 5.0
    management_timeout: float = 10.0

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def uses_dev_idp(self) -> bool:
        return not self.oidc_issuer

    @property
    def issuer(self) -> str:
        return self.oidc_issuer or f"{self.base_url}{DEV_IDP_MOUNT}"

    @property
    def api_audience(self) -> str:
        """The `aud` bearer tokens must carry; empty turns bearer tokens off."""
        return self.oidc_audience or (DEV_API_AUDIENCE if self.uses_dev_idp else "")

    @property
    def reserved_audiences(self) -> frozenset[str]:
        """APIs no product may get a token for: the portal's own (it opens every product and,
        with the admin scope, the admin API) and the Management API (it administers users)."""
        management = f"{self.management_issuer.rstrip('/')}/api/v2/"
        return frozenset(a for a in (self.api_audience, management) if a)

    @property
    def client_id(self) -> str:
        return self.oidc_client_id or DEV_CLIENT_ID

    @property
    def client_secret(self) -> str:
        return self.oidc_client_secret or self.derived_secret("dev-idp-client")

    @property
    def management_issuer(self) -> str:
        """Where the Management API lives: the tenant's own domain, even behind a custom domain."""
        return self.management_domain_issuer or self.issuer

    @property
    def management_credentials(self) -> tuple[str, str] | None:
        """The machine-to-machine client for the Management API, when one is configured."""
        if self.management_client_id and self.management_client_secret:
            return self.management_client_id, self.management_client_secret
        if self.uses_dev_idp:
            return DEV_MANAGEMENT_CLIENT_ID, self.derived_secret("dev-idp-management")
        return None

    @property
    def callback_url(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @cached_property
    def origins(self) -> Origins:
        """The portal's origin and, in host mode, each product's (see `auth.hosts`)."""
        return Origins.from_settings(self.base_url, self.host_domain)

    @cached_property
    def identity_headers(self) -> IdentityHeaders:
        """The identity headers the Gate strips: the maintained table and the site's own."""
        return IdentityHeaders(self.identity_header_names)

    @property
    def portal_addresses(self) -> tuple[str, ...]:
        """Where the portal itself listens (`host:port`, or `unix:/path`): its base URL and its
        bind address. A product naming one of them as its server would be the portal again,
        reached from loopback through its own proxy."""
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = [f"{parts.hostname}:{port}"]
        for bound in self.bind.replace(",", " ").split():
            found.append(bound if bound.startswith("unix:") else bound.removeprefix("tcp://"))
        return tuple(dict.fromkeys(found))

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """Host names requests may carry (werkzeug's form: a leading dot allows subdomains):
        PORTAL_TRUSTED_HOSTS, else the base URL's host and, in host mode, the product hosts."""
        if self.trusted_hosts:
            return self.trusted_hosts
        hosts = [urlsplit(self.base_url).hostname or ""]
        if self.host_domain:
            hosts.append("." + self.host_domain.split(":")[0])
        return tuple(hosts)

    def identity_key_pem(self) -> str:
        """PORTAL_IDENTITY_KEY; in development, without one, a key made once and kept in the
        instance folder, so every worker and every restart signs with the same key."""
        if self.identity_key:
            return self.identity_key
        if self.production:
            raise ConfigError("PORTAL_IDENTITY_KEY is required in production")
        return kept_in_instance(self.instance_path, "identity_key.pem", generate_key_pem)

    def derived_secret(self, purpose: str) -> str:
        """A key for one purpose, so no part holds the master secret it does not need."""
        digest = hmac.new(self.secret_key.encode(), purpose.encode(), hashlib.sha256)
        return digest.hexdigest()


def load_settings(
    environ: Mapping[str, str] | None = None, *, read_dotenv: bool = True
) -> Settings:
    """Settings from ``environ`` (default: the process environment, plus `.env` in development)."""
    if environ is None:
        if read_dotenv:
            from dotenv import load_dotenv

            load_dotenv(PROJECT_ROOT / ".env", override=False)
        environ = os.environ
    env = environ
    environment = env.get("PORTAL_ENV", "development").strip() or "development"
    if environment not in {"development", "production"}:
        raise ConfigError(f"PORTAL_ENV must be 'development' or 'production', got {environment!r}")
    instance_path = Path(env.get("PORTAL_INSTANCE_PATH", "") or PROJECT_ROOT / "instance")
    base_url = base_url_from(env, DEFAULT_BASE_URL)
    scheme = urlsplit(base_url).scheme
    issuer = issuer_from(env)
    domain = host_domain(env, base_url, scheme)
    if environment == "production":
        check_production(env, scheme=scheme, issuer=issuer)
    if issuer and not env.get("OIDC_CLIENT_ID", "").strip():
        raise ConfigError("OIDC_CLIENT_ID is required when OIDC_ISSUER or AUTH0_DOMAIN is set")
    if domain and not env.get("PORTAL_BASE_URL", "").strip():
        base_url = f"{scheme}://{domain}"
    return Settings(
        environment=environment,
        secret_key=env.get("SECRET_KEY", "").strip() or development_secret(instance_path),
        identity_key=identity_key(env),
        database_url=env.get("DATABASE_URL", "").strip()
        or f"sqlite:///{instance_path / 'portal.sqlite3'}",
        base_url=base_url,
        instance_path=instance_path,
        host_domain=domain,
        trusted_hosts=tuple(env.get("PORTAL_TRUSTED_HOSTS", "").split()),
        allow_sqlite=flag(env, "PORTAL_ALLOW_SQLITE"),
        site_name=env.get("PORTAL_SITE_NAME", "").strip() or Settings.site_name,
        **_sign_in(env, issuer),
        **_sessions(env),
        **_products(env, environment),
        **_operations(env, environment),
        **_development(env, instance_path),
        **_deadlines(env),
    )


def _sign_in(env: Mapping[str, str], issuer: str) -> dict:
    scopes = sign_in_scopes(env, Settings.oidc_scopes)
    return {
        "oidc_issuer": issuer,
        "oidc_client_id": env.get("OIDC_CLIENT_ID", "").strip(),
        "oidc_client_secret": env.get("OIDC_CLIENT_SECRET", "").strip(),
        "oidc_scopes": scopes,
        "admin_scope": admin_scope(env, scopes),
        "oidc_audience": env.get("OIDC_AUDIENCE", "").strip(),
        "roles_claim": env.get("PORTAL_ROLES_CLAIM", "").strip() or Settings.roles_claim,
        "tier_roles": tier_roles(env, "PORTAL_TIER_ROLES"),
        "auth0_domain": env.get("AUTH0_DOMAIN", "").strip().removeprefix("https://").rstrip("/"),
        "management_client_id": env.get("AUTH0_MANAGEMENT_CLIENT_ID", "").strip(),
        "management_client_secret": env.get("AUTH0_MANAGEMENT_CLIENT_SECRET", "").strip(),
        "management_domain_issuer": issuer_from(
            {"AUTH0_DOMAIN": env.get("AUTH0_MANAGEMENT_DOMAIN", "")}
        ),
        "webhook_secret": check_webhook_secret(env.get("PORTAL_WEBHOOK_SECRET", "").strip()),
        "sync_batch_size": positive_int(env, "PORTAL_SYNC_BATCH_SIZE", Settings.sync_batch_size),
        "incremental_sync_minutes": count(env, "PORTAL_INCREMENTAL_SYNC_MINUTES"),
    }


def _sessions(env: Mapping[str, str]) -> dict:
    return {
        "session_idle_minutes": positive_int(
            env, "SESSION_IDLE_MINUTES", Settings.session_idle_minutes
        ),
        "session_max_hours": positive_int(env, "SESSION_MAX_HOURS", Settings.session_max_hours),
        "identity_cache_seconds": seconds(env, "PORTAL_IDENTITY_CACHE_SECONDS", 5.0),
    }


def _blocked_paths(setting: str) -> tuple[BlockPattern, ...]:
    try:
        return parse_blocks(setting)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _products(env: Mapping[str, str], environment: str) -> dict:
    patterns = tuple(p for p in env.get("PORTAL_APPS", "").replace(",", " ").split() if p)
    recheck = 10.0 if environment == "production" else 1.0
    return {
        "apps_dir": Path(env.get("PORTAL_APPS_DIR", "") or PROJECT_ROOT / "apps"),
        "apps_patterns": patterns,
        "blocked_paths": _blocked_paths(env.get("PORTAL_BLOCK", "")),
        "apps_recheck_seconds": seconds(env, "PORTAL_APPS_RECHECK_SECONDS", recheck),
        "import_timeout_seconds": seconds(env, "PORTAL_IMPORT_TIMEOUT_SECONDS", 10.0),
        "ready_deadline_seconds": deadline(
            env, "PORTAL_READY_DEADLINE_SECONDS", Settings.ready_deadline_seconds
        ),
        "websocket_origins": tuple(
            origin.rstrip("/") for origin in env.get("PORTAL_WEBSOCKET_ORIGINS", "").split()
        ),
    }


def _operations(env: Mapping[str, str], environment: str) -> dict:
    return {
        "trusted_proxies": count(env, "PORTAL_TRUSTED_PROXIES"),
        "metrics_allow": networks(env, "PORTAL_METRICS_ALLOW", Settings.metrics_allow),
        "metrics_token": env.get("PORTAL_METRICS_TOKEN", "").strip(),
        "forward_auth_sources": networks(
            env, "PORTAL_FORWARD_AUTH_SOURCES", Settings.forward_auth_sources
        ),
        "identity_header_names": header_patterns(env, "PORTAL_IDENTITY_HEADERS"),
        "bind": env.get("PORTAL_BIND", "").strip() or Settings.bind,
        "json_logs": log_format(env, environment) == "json",
        "redis_url": env.get("REDIS_URL", "").strip(),
        "broadcast_prefix": env.get("PORTAL_BROADCAST_PREFIX", "").strip()
        or Settings.broadcast_prefix,
        "login_rate_limit": env.get("PORTAL_LOGIN_RATE_LIMIT", Settings.login_rate_limit).strip(),
    }


def _development(env: Mapping[str, str], instance_path: Path) -> dict:
    return {
        "dev_idp_database_url": env.get("DEV_IDP_DATABASE_URL", "").strip()
        or f"sqlite:///{instance_path / 'devidp.sqlite3'}",
        "dev_idp_management_rate_limit": count(env, "DEV_IDP_MANAGEMENT_RATE_LIMIT"),
        "dev_idp_access_token_ttl": positive_int(
            env, "DEV_IDP_ACCESS_TOKEN_TTL", Settings.dev_idp_access_token_ttl
        ),
        "dev_idp_refresh_token_ttl": positive_int(
            env, "DEV_IDP_REFRESH_TOKEN_TTL", Settings.dev_idp_refresh_token_ttl
        ),
    }


def _deadlines(env: Mapping[str, str]) -> dict[str, float]:
    return {
        "database_connect_timeout": deadline(
            env, "PORTAL_DATABASE_CONNECT_TIMEOUT", Settings.database_connect_timeout
        ),
        "database_read_timeout": deadline(
            env, "PORTAL_DATABASE_READ_TIMEOUT", Settings.database_read_timeout
        ),
        "database_write_timeout": deadline(
            env, "PORTAL_DATABASE_WRITE_TIMEOUT", Settings.database_write_timeout
        ),
        "redis_timeout": deadline(env, "PORTAL_REDIS_TIMEOUT", Settings.redis_timeout),
        "idp_timeout": deadline(env, "PORTAL_IDP_TIMEOUT", Settings.idp_timeout),
        "management_timeout": deadline(
            env, "PORTAL_MANAGEMENT_TIMEOUT", Settings.management_timeout
        ),
    }
