"""The parts of one portal process, built once and shared by the portal app and the Gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from auth.bearer import BearerVerifier, IssuerKeys
from auth.management import ManagementClient
from auth.oidc import IssuerMetadata, refresher
from auth.resolver import IdentityResolver
from auth.sessions import SessionStore
from auth.sockets import SocketRegistry
from auth.user_tokens import TokenVault, UserTokens
from db.engine import Database
from db.sync import Progress, UserSync
from db.user_admin import UserAdmin
from portal.config import ConfigError, Settings
from portal.discovery import Discovery
from portal.pages import ErrorPages


@dataclass
class Services:
    settings: Settings
    database: Database
    store: SessionStore
    resolver: IdentityResolver
    pages: ErrorPages
    discovery: Discovery
    sockets: SocketRegistry
    metadata: IssuerMetadata
    issuer_keys: IssuerKeys
    tokens: UserTokens
    _management: ManagementClient | None = field(default=None, repr=False)

    def management(self) -> ManagementClient:
        """The Management API client; only Auth0 and the development provider offer one."""
        credentials = self.settings.management_credentials
        if credentials is None:
            raise ConfigError(
                "user sync needs the Auth0 Management API: set AUTH0_MANAGEMENT_CLIENT_ID and "
                "AUTH0_MANAGEMENT_CLIENT_SECRET (or run with the development identity provider)"
            )
        if self._management is None:
            self._management = ManagementClient(
                issuer=self.settings.management_issuer,
                client_id=credentials[0],
                client_secret=credentials[1],
            )
        return self._management

    def user_sync(self, progress: Progress | None = None) -> UserSync:
        return UserSync(
            self.database,
            self.management(),
            batch_size=self.settings.sync_batch_size,
            progress=progress,
        )

    def user_admin(self) -> UserAdmin:
        return UserAdmin(self.database, self.management(), self.store)

    @classmethod
    def build(cls, settings: Settings, discovery: Discovery) -> Services:
        database = Database(settings.database_url)
        store = SessionStore(
            database,
            settings.derived_secret("portal.session"),
            idle=timedelta(minutes=settings.session_idle_minutes),
            lifetime=timedelta(hours=settings.session_max_hours),
        )
        metadata = IssuerMetadata(settings.issuer)
        keys = IssuerKeys(lambda: metadata.get()["jwks_uri"])
        resolver = IdentityResolver(
            store, settings.identity_cache_seconds, bearer=_bearer_verifier(settings, keys)
        )
        tokens = UserTokens(
            store,
            TokenVault(settings.derived_secret("portal.user-tokens")),
            refresher(metadata, settings.client_id, settings.client_secret),
            reserved_audiences=settings.reserved_audiences,
        )
        return cls(
            settings=settings,
            database=database,
            store=store,
            resolver=resolver,
            sockets=SocketRegistry(resolver),
            metadata=metadata,
            issuer_keys=keys,
            tokens=tokens,
            pages=ErrorPages(settings.site_name),
            discovery=discovery,
        )


def _bearer_verifier(settings: Settings, keys: IssuerKeys) -> BearerVerifier | None:
    if not settings.api_audience:
        return None
    return BearerVerifier(
        issuer=settings.issuer,
        audience=settings.api_audience,
        keys=keys,
        roles_claim=settings.roles_claim,
        admin_scope=settings.admin_scope,
    )
