"""What the portal works out from its settings: the issuer it signs in with, its origins, the
hosts it answers, the secrets it derives for each part. Mixed into `portal.settings.model.Settings`
so these stay derived from the fields, never settable beside them."""

from __future__ import annotations

import hashlib
import hmac
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from auth.hosts import Origins
from auth.identity_headers import IdentityHeaders
from auth.identity_token import generate_key_pem
from portal.settings.values import kept_in_instance

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DEV_IDP_MOUNT = "/idp"
DEV_CLIENT_ID = "portal-dev"
DEV_MANAGEMENT_CLIENT_ID = "portal-dev-management"
DEV_API_AUDIENCE = "portal-api"


def portal_addresses(base_url: str, bind: str) -> tuple[str, ...]:
    """Where the portal itself listens (`host:port`, or `unix:/path`): its base URL and its
    bind address. A product naming one of them as its server would be the portal again,
    reached from loopback through its own proxy."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found = [f"{parts.hostname}:{port}"]
    for bound in bind.replace(",", " ").split():
        found.append(bound if bound.startswith("unix:") else bound.removeprefix("tcp://"))
    return tuple(dict.fromkeys(found))


class Derived:
    """The derived values; the fields they read are declared by the model."""

    if TYPE_CHECKING:
        environment: str
        secret_key: str
        identity_key: str
        base_url: str
        instance_path: Path
        oidc_issuer: str
        auth0_domain: str
        oidc_client_id: str
        oidc_client_secret: str
        oidc_audience: str
        auth0_management_domain: str
        management_client_id: str
        management_client_secret: str
        host_domain: str
        trusted_hosts: tuple[str, ...]
        identity_header_names: tuple[str, ...]
        bind: str
        log_format: str

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def json_logs(self) -> bool:
        """PORTAL_LOG_FORMAT; by default JSON lines in production, plain text in development."""
        return (self.log_format or ("json" if self.production else "text")) == "json"

    @property
    def configured_issuer(self) -> str:
        """OIDC_ISSUER, or the one AUTH0_DOMAIN names; empty: the built-in provider."""
        return self.oidc_issuer or (f"https://{self.auth0_domain}/" if self.auth0_domain else "")

    @property
    def uses_dev_idp(self) -> bool:
        return not self.configured_issuer

    @property
    def issuer(self) -> str:
        return self.configured_issuer or f"{self.base_url}{DEV_IDP_MOUNT}"

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
        if self.auth0_management_domain:
            return f"https://{self.auth0_management_domain}/"
        return self.issuer

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
        return portal_addresses(self.base_url, self.bind)

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
        """PORTAL_IDENTITY_KEY (production refuses to start without one); in development,
        without one, a key made once and kept in the instance folder, so every worker and every
        restart signs with the same key."""
        if self.identity_key:
            return self.identity_key
        return kept_in_instance(self.instance_path, "identity_key.pem", generate_key_pem)

    def derived_secret(self, purpose: str) -> str:
        """A key for one purpose, so no part holds the master secret it does not need."""
        digest = hmac.new(self.secret_key.encode(), purpose.encode(), hashlib.sha256)
        return digest.hexdigest()
