"""Settings, read once from the environment (and a `.env` file in development).

Every knob an operator can turn is a field of :class:`Settings`, named after its environment
variable, so the README's settings table and this module cannot drift apart. Defaults give a
working development portal with no setup: a SQLite file, the built-in identity provider and the
sample products. Production refuses to start on a missing or weak secret rather than run insecurely.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from auth.hosts import Origins
from portal.secret_strength import secret_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DEV_IDP_MOUNT = "/idp"
DEV_CLIENT_ID = "portal-dev"
DEV_MANAGEMENT_CLIENT_ID = "portal-dev-management"
DEV_API_AUDIENCE = "portal-api"
DEFAULT_ADMIN_SCOPE = "portal:admin"
MIN_SECRET_LENGTH = 32
#: Settings that hold secrets: production refuses any that is short, guessable or patterned.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "OIDC_CLIENT_SECRET",
    "AUTH0_MANAGEMENT_CLIENT_SECRET",
    "PORTAL_WEBHOOK_SECRET",
    "PORTAL_METRICS_TOKEN",
)


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it so the operator can fix it."""


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    secret_key: str = ""
    database_url: str = ""
    base_url: str = DEFAULT_BASE_URL
    instance_path: Path = PROJECT_ROOT / "instance"
    apps_dir: Path = PROJECT_ROOT / "apps"
    apps_patterns: tuple[str, ...] = ()
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile email offline_access"
    admin_scope: str = DEFAULT_ADMIN_SCOPE
    roles_claim: str = "https://portal/roles"
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
    json_logs: bool = False
    redis_url: str = ""
    login_rate_limit: str = "20/minute"
    apps_recheck_seconds: float = 10.0
    import_timeout_seconds: float = 10.0
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

    def derived_secret(self, purpose: str) -> str:
        """A key for one purpose, so no part holds the master secret it does not need."""
        digest = hmac.new(self.secret_key.encode(), purpose.encode(), hashlib.sha256)
        return digest.hexdigest()


def _env_positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _env_count(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name, "").strip() or "0"
    if not raw.isdigit():
        raise ConfigError(f"{name} must be 0 or a positive whole number, got {raw!r}")
    return int(raw)


def _env_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


def _env_deadline(env: Mapping[str, str], name: str, default: float) -> float:
    """A timeout in seconds: positive, since zero would mean "wait forever" to most drivers."""
    value = _env_seconds(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value}")
    return value


def _networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name, "").split()
    for value in raw:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(f"{name} must list networks like 10.0.0.0/8, got {value!r}") from None
    return tuple(raw) or default


def _log_format(env: Mapping[str, str], environment: str) -> str:
    value = env.get("PORTAL_LOG_FORMAT", "").strip() or (
        "json" if environment == "production" else "text"
    )
    if value not in {"json", "text"}:
        raise ConfigError(f"PORTAL_LOG_FORMAT must be json or text, got {value!r}")
    return value


def _admin_scope(env: Mapping[str, str], sign_in_scopes: str) -> str:
    """The scope the admin API wants of a bearer token. Sign-in must never ask for it: a
    session's token reaches every product its user visits, so it must not open the admin API."""
    scope = env.get("PORTAL_ADMIN_SCOPE", "").strip() or DEFAULT_ADMIN_SCOPE
    if len(scope.split()) != 1:
        raise ConfigError(f"PORTAL_ADMIN_SCOPE must be one scope, got {scope!r}")
    if scope in sign_in_scopes.split():
        raise ConfigError(
            f"OIDC_SCOPES must not include {scope} (PORTAL_ADMIN_SCOPE): every session would "
            "then hold a token that opens the admin API, for any product its user visits"
        )
    return scope


def _development_secret(instance_path: Path) -> str:
    """A random secret kept in the instance folder, so restarts keep sessions in development.

    Several gunicorn workers may start at once: the file is written aside and linked into place,
    which fails for all but the first, so every worker ends up with the same secret.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / "secret_key"
    if not path.exists():
        draft = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()


def check_secret(name: str, value: str) -> None:
    """Refuse a weak production secret by name, saying how to make a good one."""
    problem = secret_problem(value)
    if problem is not None:
        raise ConfigError(
            f"{name} is too weak for production: {problem}. Use a random value, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def _env_flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in {"", "0", "1", "true", "false", "yes", "no"}:
        raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")
    return raw in {"1", "true", "yes"}


def _host_domain(env: Mapping[str, str], base_url: str, scheme: str) -> str:
    """PORTAL_HOST_DOMAIN, checked against PORTAL_BASE_URL: the portal's own pages are served
    on the domain's own host, so the two must name the same host when both are set."""
    domain = env.get("PORTAL_HOST_DOMAIN", "").strip().lower().rstrip("/")
    if not domain:
        return ""
    if "/" in domain or " " in domain or domain.startswith(".") or "." not in domain + ".":
        raise ConfigError(
            f"PORTAL_HOST_DOMAIN must be a host name like portal.example.org, got {domain!r}"
        )
    named = Origins.from_settings(f"{scheme}://{domain}", "").portal_host
    if env.get("PORTAL_BASE_URL", "").strip() and (
        Origins.from_settings(base_url, "").portal_host != named
    ):
        raise ConfigError(
            f"PORTAL_HOST_DOMAIN={domain} but PORTAL_BASE_URL is {base_url}: in host mode the "
            "portal is served on the domain's own host, so they must name the same host"
        )
    return domain


def _issuer_from(env: Mapping[str, str]) -> str:
    issuer = env.get("OIDC_ISSUER", "").strip()
    domain = env.get("AUTH0_DOMAIN", "").strip()
    if issuer and domain:
        raise ConfigError("set either OIDC_ISSUER or AUTH0_DOMAIN, not both")
    if domain:
        host = domain.removeprefix("https://").rstrip("/")
        if not host or "/" in host or " " in host or "." not in host:
            raise ConfigError(
                f"AUTH0_DOMAIN must be a host name like tenant.eu.auth0.com, got {domain!r}"
            )
        issuer = f"https://{host}/"
    return issuer


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
    base_url = (env.get("PORTAL_BASE_URL", "").strip() or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
        raise ConfigError(
            f"PORTAL_BASE_URL must be like https://portal.example.org, got {base_url!r}"
        )

    secret = env.get("SECRET_KEY", "").strip()
    issuer = _issuer_from(env)
    host_domain = _host_domain(env, base_url, parts.scheme)
    allow_sqlite = _env_flag(env, "PORTAL_ALLOW_SQLITE")
    if environment == "production":
        if not secret:
            raise ConfigError(
                "SECRET_KEY is required in production (at least 32 random characters)"
            )
        for name in SECRET_SETTINGS:
            if env.get(name, "").strip():
                check_secret(name, env[name].strip())
        if parts.scheme != "https":
            raise ConfigError("PORTAL_BASE_URL must be https in production (cookies are Secure)")
        if not issuer:
            raise ConfigError("OIDC_ISSUER or AUTH0_DOMAIN is required in production")
        if not issuer.startswith("https://"):
            raise ConfigError(f"OIDC_ISSUER must be an https URL in production, got {issuer!r}")
        for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "DATABASE_URL"):
            if not env.get(name, "").strip():
                raise ConfigError(f"{name} is required in production")
        if env["DATABASE_URL"].strip().startswith("sqlite") and not allow_sqlite:
            raise ConfigError(
                "DATABASE_URL is SQLite, which one machine's workers can share but no second "
                "node can; use MariaDB in production, or set PORTAL_ALLOW_SQLITE=1 to run on "
                "one machine anyway"
            )
    elif not secret:
        secret = _development_secret(instance_path)
    if issuer and not env.get("OIDC_CLIENT_ID", "").strip():
        raise ConfigError("OIDC_CLIENT_ID is required when OIDC_ISSUER or AUTH0_DOMAIN is set")

    webhook_secret = env.get("PORTAL_WEBHOOK_SECRET", "").strip()
    if webhook_secret and len(webhook_secret) < MIN_SECRET_LENGTH:
        raise ConfigError("PORTAL_WEBHOOK_SECRET must be at least 32 random characters")
    if host_domain and not env.get("PORTAL_BASE_URL", "").strip():
        base_url = f"{parts.scheme}://{host_domain}"
    database_url = (
        env.get("DATABASE_URL", "").strip() or f"sqlite:///{instance_path / 'portal.sqlite3'}"
    )
    scopes = env.get("OIDC_SCOPES", "").strip() or Settings.oidc_scopes
    if "openid" not in scopes.split():
        raise ConfigError(f"OIDC_SCOPES must include openid, got {scopes!r}")
    admin_scope = _admin_scope(env, scopes)
    patterns = tuple(p for p in env.get("PORTAL_APPS", "").replace(",", " ").split() if p)
    return Settings(
        environment=environment,
        secret_key=secret,
        database_url=database_url,
        base_url=base_url,
        instance_path=instance_path,
        apps_dir=Path(env.get("PORTAL_APPS_DIR", "") or PROJECT_ROOT / "apps"),
        apps_patterns=patterns,
        oidc_issuer=issuer,
        oidc_client_id=env.get("OIDC_CLIENT_ID", "").strip(),
        oidc_client_secret=env.get("OIDC_CLIENT_SECRET", "").strip(),
        oidc_scopes=scopes,
        admin_scope=admin_scope,
        roles_claim=env.get("PORTAL_ROLES_CLAIM", "").strip() or Settings.roles_claim,
        session_idle_minutes=_env_positive_int(
            env, "SESSION_IDLE_MINUTES", Settings.session_idle_minutes
        ),
        session_max_hours=_env_positive_int(env, "SESSION_MAX_HOURS", Settings.session_max_hours),
        trusted_proxies=_env_count(env, "PORTAL_TRUSTED_PROXIES"),
        identity_cache_seconds=_env_seconds(env, "PORTAL_IDENTITY_CACHE_SECONDS", 5.0),
        site_name=env.get("PORTAL_SITE_NAME", "").strip() or Settings.site_name,
        dev_idp_database_url=env.get("DEV_IDP_DATABASE_URL", "").strip()
        or f"sqlite:///{instance_path / 'devidp.sqlite3'}",
        dev_idp_management_rate_limit=_env_count(env, "DEV_IDP_MANAGEMENT_RATE_LIMIT"),
        dev_idp_access_token_ttl=_env_positive_int(
            env, "DEV_IDP_ACCESS_TOKEN_TTL", Settings.dev_idp_access_token_ttl
        ),
        dev_idp_refresh_token_ttl=_env_positive_int(
            env, "DEV_IDP_REFRESH_TOKEN_TTL", Settings.dev_idp_refresh_token_ttl
        ),
        management_client_id=env.get("AUTH0_MANAGEMENT_CLIENT_ID", "").strip(),
        management_client_secret=env.get("AUTH0_MANAGEMENT_CLIENT_SECRET", "").strip(),
        webhook_secret=webhook_secret,
        incremental_sync_minutes=_env_count(env, "PORTAL_INCREMENTAL_SYNC_MINUTES"),
        oidc_audience=env.get("OIDC_AUDIENCE", "").strip(),
        metrics_allow=_networks(env, "PORTAL_METRICS_ALLOW", Settings.metrics_allow),
        metrics_token=env.get("PORTAL_METRICS_TOKEN", "").strip(),
        json_logs=_log_format(env, environment) == "json",
        redis_url=env.get("REDIS_URL", "").strip(),
        apps_recheck_seconds=_env_seconds(
            env, "PORTAL_APPS_RECHECK_SECONDS", 10.0 if environment == "production" else 1.0
        ),
        import_timeout_seconds=_env_seconds(env, "PORTAL_IMPORT_TIMEOUT_SECONDS", 10.0),
        login_rate_limit=env.get("PORTAL_LOGIN_RATE_LIMIT", Settings.login_rate_limit).strip(),
        auth0_domain=env.get("AUTH0_DOMAIN", "").strip().removeprefix("https://").rstrip("/"),
        websocket_origins=tuple(
            origin.rstrip("/") for origin in env.get("PORTAL_WEBSOCKET_ORIGINS", "").split()
        ),
        sync_batch_size=_env_positive_int(env, "PORTAL_SYNC_BATCH_SIZE", Settings.sync_batch_size),
        management_domain_issuer=_issuer_from(
            {"AUTH0_DOMAIN": env.get("AUTH0_MANAGEMENT_DOMAIN", "")}
        ),
        host_domain=host_domain,
        trusted_hosts=tuple(env.get("PORTAL_TRUSTED_HOSTS", "").split()),
        allow_sqlite=allow_sqlite,
        broadcast_prefix=env.get("PORTAL_BROADCAST_PREFIX", "").strip()
        or Settings.broadcast_prefix,
        **_deadlines(env),
    )


def _deadlines(env: Mapping[str, str]) -> dict[str, float]:
    return {
        "database_connect_timeout": _env_deadline(
            env, "PORTAL_DATABASE_CONNECT_TIMEOUT", Settings.database_connect_timeout
        ),
        "database_read_timeout": _env_deadline(
            env, "PORTAL_DATABASE_READ_TIMEOUT", Settings.database_read_timeout
        ),
        "database_write_timeout": _env_deadline(
            env, "PORTAL_DATABASE_WRITE_TIMEOUT", Settings.database_write_timeout
        ),
        "redis_timeout": _env_deadline(env, "PORTAL_REDIS_TIMEOUT", Settings.redis_timeout),
        "idp_timeout": _env_deadline(env, "PORTAL_IDP_TIMEOUT", Settings.idp_timeout),
        "management_timeout": _env_deadline(
            env, "PORTAL_MANAGEMENT_TIMEOUT", Settings.management_timeout
        ),
    }
