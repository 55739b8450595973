"""What makes a setting unacceptable, beyond its form: production's refusals and the settings
that must agree with each other (host mode and the base URL, sign-in and admin scopes).

A production start refuses rather than run insecurely: a missing or guessable secret (zxcvbn's
estimate, for every secret setting), a missing or short identity-token key, plain http, no issuer
or client, SQLite without `PORTAL_ALLOW_SQLITE=1`.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from auth.hosts import Origins
from auth.identity_token import load_key
from portal.config_env import ConfigError, flag
from portal.secret_strength import secret_problem

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


def check_production(env: Mapping[str, str], *, scheme: str, issuer: str) -> None:
    """Refuse, by name, every setting production can't run safely with."""
    if not env.get("SECRET_KEY", "").strip():
        raise ConfigError("SECRET_KEY is required in production (at least 32 random characters)")
    for name in SECRET_SETTINGS:
        if env.get(name, "").strip():
            check_secret(name, env[name].strip())
    if not env.get("PORTAL_IDENTITY_KEY", "").strip():
        raise ConfigError(
            "PORTAL_IDENTITY_KEY is required in production: the RSA private key (PEM, "
            f"{IDENTITY_KEY_ADVICE}) that signs the identity tokens process and upstream "
            "products get"
        )
    if scheme != "https":
        raise ConfigError("PORTAL_BASE_URL must be https in production (cookies are Secure)")
    if not issuer:
        raise ConfigError("OIDC_ISSUER or AUTH0_DOMAIN is required in production")
    if not issuer.startswith("https://"):
        raise ConfigError(f"OIDC_ISSUER must be an https URL in production, got {issuer!r}")
    for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "DATABASE_URL"):
        if not env.get(name, "").strip():
            raise ConfigError(f"{name} is required in production")
    if env["DATABASE_URL"].strip().startswith("sqlite") and not flag(env, "PORTAL_ALLOW_SQLITE"):
        raise ConfigError(
            "DATABASE_URL is SQLite, which one machine's workers can share but no second node "
            "can; use MariaDB in production, or set PORTAL_ALLOW_SQLITE=1 to run on one machine "
            "anyway"
        )


IDENTITY_KEY_ADVICE = (
    "2048 bits or more; make one with openssl genpkey -algorithm RSA -pkeyopt "
    "rsa_keygen_bits:3072, one line with \\n for its line breaks in an env file"
)


def identity_key(env: Mapping[str, str]) -> str:
    """PORTAL_IDENTITY_KEY, refused by name when it is not an RSA key that may sign tokens."""
    value = env.get("PORTAL_IDENTITY_KEY", "").strip()
    if value:
        try:
            load_key(value)
        except ValueError as error:
            raise ConfigError(f"PORTAL_IDENTITY_KEY {error} ({IDENTITY_KEY_ADVICE})") from None
    return value


def check_webhook_secret(value: str) -> str:
    if value and len(value) < MIN_SECRET_LENGTH:
        raise ConfigError("PORTAL_WEBHOOK_SECRET must be at least 32 random characters")
    return value


def sign_in_scopes(env: Mapping[str, str], default: str) -> str:
    scopes = env.get("OIDC_SCOPES", "").strip() or default
    if "openid" not in scopes.split():
        raise ConfigError(f"OIDC_SCOPES must include openid, got {scopes!r}")
    return scopes


def base_url_from(env: Mapping[str, str], default: str) -> str:
    base_url = (env.get("PORTAL_BASE_URL", "").strip() or default).rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
        raise ConfigError(
            f"PORTAL_BASE_URL must be like https://portal.example.org, got {base_url!r}"
        )
    return base_url


def admin_scope(env: Mapping[str, str], sign_in_scopes: str) -> str:
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


def check_secret(name: str, value: str) -> None:
    """Refuse a weak production secret by name, saying how to make a good one."""
    problem = secret_problem(value)
    if problem is not None:
        raise ConfigError(
            f"{name} is too weak for production: {problem}. Use a random value, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def host_domain(env: Mapping[str, str], base_url: str, scheme: str) -> str:
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


def issuer_from(env: Mapping[str, str]) -> str:
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
