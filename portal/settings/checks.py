"""What makes settings unacceptable together, beyond each one's form: production's refusals and
the settings that must agree with each other (host mode and the base URL, sign-in and admin
scopes, an issuer and its client).

A production start refuses rather than run insecurely: a missing or guessable secret (zxcvbn's
estimate, for every secret setting), a missing identity-token key, plain http, no issuer or
client, SQLite without `PORTAL_ALLOW_SQLITE=1`. Each check raises `ValueError` naming the
variable; the model's validator runs them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from auth.hosts import Origins
from portal.secret_strength import secret_problem
from portal.settings.values import IDENTITY_KEY_ADVICE

MIN_SECRET_LENGTH = 32

if TYPE_CHECKING:
    from portal.settings.model import Settings


def check_agreement(settings: Settings, base_url_given: bool) -> None:
    """Where the portal is and who signs in for it: settings that must agree in any environment."""
    if settings.oidc_issuer and settings.auth0_domain:
        raise ValueError("set either OIDC_ISSUER or AUTH0_DOMAIN, not both")
    domain = settings.host_domain
    if domain and base_url_given:
        scheme = urlsplit(settings.base_url).scheme
        named = Origins.from_settings(f"{scheme}://{domain}", "").portal_host
        if Origins.from_settings(settings.base_url, "").portal_host != named:
            raise ValueError(
                f"PORTAL_HOST_DOMAIN={domain} but PORTAL_BASE_URL is {settings.base_url}: in host "
                "mode the portal is served on the domain's own host, so they must name the same "
                "host"
            )


def check_sign_in(settings: Settings) -> None:
    """The issuer's client, the scopes and the webhook's secret (after production's refusals,
    which name a weak secret more usefully than its length)."""
    if settings.configured_issuer and not settings.oidc_client_id:
        raise ValueError("OIDC_CLIENT_ID is required when OIDC_ISSUER or AUTH0_DOMAIN is set")
    if settings.admin_scope in settings.oidc_scopes.split():
        raise ValueError(
            f"OIDC_SCOPES must not include {settings.admin_scope} (PORTAL_ADMIN_SCOPE): every "
            "session would then hold a token that opens the admin API, for any product its user "
            "visits"
        )
    if settings.webhook_secret and len(settings.webhook_secret) < MIN_SECRET_LENGTH:
        raise ValueError("PORTAL_WEBHOOK_SECRET must be at least 32 random characters")


def check_production(settings: Settings, *, scheme: str, issuer: str) -> None:
    """Refuse, by name, every setting production can't run safely with."""
    if not settings.secret_key:
        raise ValueError("SECRET_KEY is required in production (at least 32 random characters)")
    for name, value in settings.random_secrets():
        if value:
            check_secret(name, value)
    if not settings.identity_key:
        raise ValueError(
            "PORTAL_IDENTITY_KEY is required in production: the RSA private key (PEM, "
            f"{IDENTITY_KEY_ADVICE}) that signs the identity tokens process and upstream "
            "products get"
        )
    if scheme != "https":
        raise ValueError("PORTAL_BASE_URL must be https in production (cookies are Secure)")
    if not issuer:
        raise ValueError("OIDC_ISSUER or AUTH0_DOMAIN is required in production")
    if not issuer.startswith("https://"):
        raise ValueError(f"OIDC_ISSUER must be an https URL in production, got {issuer!r}")
    for name, value in (
        ("OIDC_CLIENT_ID", settings.oidc_client_id),
        ("OIDC_CLIENT_SECRET", settings.oidc_client_secret),
        ("DATABASE_URL", settings.database_url),
    ):
        if not value:
            raise ValueError(f"{name} is required in production")
    if settings.database_url.startswith("sqlite") and not settings.allow_sqlite:
        raise ValueError(
            "DATABASE_URL is SQLite, which one machine's workers can share but no second node "
            "can; use MariaDB in production, or set PORTAL_ALLOW_SQLITE=1 to run on one machine "
            "anyway"
        )


def check_secret(name: str, value: str) -> None:
    """Refuse a weak production secret by name, saying how to make a good one."""
    problem = secret_problem(value)
    if problem is not None:
        raise ValueError(
            f"{name} is too weak for production: {problem}. Use a random value, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
