"""The parts of one portal process, built once and shared by the portal app and the Gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from urllib.parse import urlsplit

from auth.bearer import BearerVerifier, IssuerKeys
from auth.handoff import Handoffs
from auth.identity_token import IdentityTokens
from auth.invalidation import Invalidations
from auth.locations import Locations
from auth.oidc import IssuerMetadata, refresher
from auth.product_paths import blocks_for
from auth.resolver import IdentityResolver
from auth.sessions import SessionStore
from auth.sockets import SocketRegistry
from auth.user_tokens import TokenVault, UserTokens
from db.engine import Database, Deadlines
from directory.management import DirectoryNotConfigured, ManagementClient
from directory.reconcile import Reconciler
from directory.sync import Progress, UserSync
from directory.user_admin import UserAdmin
from kit import broadcast
from kit.admin import AdminServices, ProductListing
from portal.pages import ErrorPages
from portal.products.discovery import Discovery
from portal.products.process_files import StateReader, current_state_folder
from portal.settings import Settings


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
    handoffs: Handoffs
    invalidations: Invalidations
    #: Signs the identity tokens process and upstream products get (`auth.identity_token`).
    identity_tokens: IdentityTokens
    #: The states of the `command` products, as this portal's supervisor writes them; None
    #: when this portal started no supervisor.
    processes: StateReader | None = None
    _management: ManagementClient | None = field(default=None, repr=False)

    def is_mounted(self, key: str) -> bool:
        """A product is served at `/<key>` now (the watcher keeps `discovery` current)."""
        return any(p.info.key == key for p in self.discovery.mounted())

    @cached_property
    def locations(self) -> Locations:
        """Where the portal may send a browser: its own host, mounted products' hosts, and the
        identity provider (sign-in and sign-out go there)."""
        issuer = urlsplit(self.settings.issuer)
        return Locations(
            self.settings.origins,
            self.is_mounted,
            frozenset({f"{issuer.scheme}://{issuer.netloc}"}),
        )

    def management(self) -> ManagementClient:
        """The Management API client; only Auth0 and the development provider offer one."""
        credentials = self.settings.management_credentials
        if credentials is None:
            raise DirectoryNotConfigured(
                "user sync needs the Auth0 Management API: set AUTH0_MANAGEMENT_CLIENT_ID and "
                "AUTH0_MANAGEMENT_CLIENT_SECRET (or run with the development identity provider)"
            )
        if self._management is None:
            self._management = ManagementClient(
                issuer=self.settings.management_issuer,
                client_id=credentials[0],
                client_secret=credentials[1],
                timeout=self.settings.management_timeout,
                tier_roles=self.settings.tier_roles,
            )
        return self._management

    def user_sync(self, progress: Progress | None = None) -> UserSync:
        return UserSync(
            self.database,
            self.management(),
            batch_size=self.settings.sync_batch_size,
            progress=progress,
            changed=self.invalidations.users_changed,
        )

    def for_admin_products(self) -> AdminServices:
        """What an admin-tier product may do: read the tables, administer users through the
        directory, sync, and see the products; nothing else of the portal."""
        return AdminServices(
            database=self.database,
            session_is_live=self.store.is_live,
            user_admin=self.user_admin,
            user_sync=self.user_sync,
            products=self.product_listing,
            incremental_sync_minutes=self.settings.incremental_sync_minutes,
            tier_roles=self.settings.tier_roles,
        )

    def product_listing(self) -> ProductListing:
        blocks = self.settings.blocked_paths
        products = self.discovery.products
        removed = {
            p.info.key: tuple(block.text for block in blocks_for(p.info.key, blocks))
            for p in products
        }
        return ProductListing(products, self.discovery.ignored, removed)

    def user_admin(self) -> UserAdmin:
        return UserAdmin(self.database, self.management(), self.store)

    def reconciler(self) -> Reconciler:
        return Reconciler(self.database, self.management(), self.store)

    def accelerators(self) -> dict[str, str]:
        """What Redis is doing for this process: the portal works without it, only slower to
        hear of changes elsewhere (see `auth.invalidation`)."""
        connected = self.invalidations.connected
        if connected is None:
            return {"redis": "not configured"}
        return {"redis": "connected" if connected else "reconnecting"}

    @classmethod
    def build(cls, settings: Settings, discovery: Discovery) -> Services:
        pages = ErrorPages(settings.site_name, settings.origins)
        database = Database(
            settings.database_url,
            Deadlines(
                connect=settings.database_connect_timeout,
                read=settings.database_read_timeout,
                write=settings.database_write_timeout,
            ),
        )
        invalidations = Invalidations(
            settings.redis_url, settings.broadcast_prefix, settings.redis_timeout
        )
        broadcast.configure(settings.redis_url, settings.broadcast_prefix, settings.redis_timeout)
        store = SessionStore(
            database,
            settings.derived_secret("portal.session"),
            idle=timedelta(minutes=settings.session_idle_minutes),
            lifetime=timedelta(hours=settings.session_max_hours),
            changes=invalidations,
        )
        metadata = IssuerMetadata(settings.issuer, timeout=settings.idp_timeout)
        keys = IssuerKeys(lambda: metadata.get()["jwks_uri"], timeout=settings.idp_timeout)
        resolver = IdentityResolver(
            store,
            settings.identity_cache_seconds,
            settings.origins,
            bearer=_bearer_verifier(settings, keys),
        )
        invalidations.listen(resolver)
        if resolver.bearer is not None:
            keys.start()
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
            pages=pages,
            handoffs=Handoffs(
                database, store, settings.origins, settings.derived_secret("portal.handoff"), pages
            ),
            invalidations=invalidations,
            identity_tokens=IdentityTokens(settings.base_url, settings.identity_key_pem),
            discovery=discovery,
            processes=_process_states(settings),
        )


def _process_states(settings: Settings) -> StateReader | None:
    folder = current_state_folder()
    return StateReader(folder) if folder is not None else None


def _bearer_verifier(settings: Settings, keys: IssuerKeys) -> BearerVerifier | None:
    if not settings.api_audience:
        return None
    return BearerVerifier(
        issuer=settings.issuer,
        audience=settings.api_audience,
        keys=keys,
        roles_claim=settings.roles_claim,
        admin_scope=settings.admin_scope,
        tier_roles=settings.tier_roles,
    )
