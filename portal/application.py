"""Assembling the whole site: the portal at `/`, each product behind its Gate at `/<tier>/<name>`.

This is the request path of DESIGN.md, built once per process:

    ProxyFix (only with trusted proxies) -> RequestContext -> ProductMounts (DispatcherMiddleware)
        "/"              -> portal app
        "/<tier>/<name>" -> Gate(tier) -> product
        "/idp"           -> development identity provider (only when no issuer is configured)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from auth.authflask import AuthFlask
from auth.gate import Gate
from auth.identity import LOGOUT_TOKEN_ENVIRON_KEY, USER_ENVIRON_KEY
from auth.responses import html_response
from auth.tiers import Tier
from db.users import SignIn, ensure_users
from devidp import DEMO_USERS, DevIdpSettings, create_dev_idp
from portal.config import DEV_IDP_MOUNT, Settings, load_settings
from portal.discovery import Loading, Product, Status, discover
from portal.host_router import HostRouter
from portal.loader import ImportMarks
from portal.mounts import ProductMounts
from portal.observability import RequestContext, configure_logging, portal_csp
from portal.pages import ErrorPages
from portal.scheduler import IncrementalSyncScheduler
from portal.services import Services
from portal.startup import allow_plain_http_in_development, prepare_instance
from portal.web import create_portal_app

log = logging.getLogger(__name__)


class BrokenProduct:
    """What a product that failed to load answers: 503, with the error for devel and admin users."""

    def __init__(self, product: Product, pages: ErrorPages) -> None:
        self.product = product
        self.pages = pages

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        user = environ.get(USER_ENVIRON_KEY)
        insider = user is not None and user.tier.opens(Tier.DEVEL)
        page = self.pages(
            status=503,
            heading=f"{self.product.info.title} is unavailable",
            message=(
                f"{self.product.info.key} could not be loaded, so it is not being served. "
                "The rest of the portal works as usual."
            ),
            user=user,
            details=self._details() if insider else None,
            action_url=self.pages.dashboard_url,
            action_label="Back to your dashboard",
            logout_token=environ.get(LOGOUT_TOKEN_ENVIRON_KEY),
        )
        return html_response(start_response, 503, page)

    def _details(self) -> str | None:
        error, trace = self.product.error, self.product.traceback
        return f"{error}\n\n{trace}" if error and trace else error or trace


def _product_app(product: Product, services: Services) -> Callable:
    if product.status is Status.BROKEN or product.app is None:
        return BrokenProduct(product, services.pages)
    if isinstance(product.app, AuthFlask):
        if product.info.tier is Tier.ADMIN:
            product.app.portal_services = services
        origins = services.settings.origins
        product.app.bind_portal(
            product.info,
            services.settings.secret_key,
            site_name=services.settings.site_name,
            secure_cookies=origins.https,
            portal_url=origins.portal_origin if origins.host_mode else "",
        )
    return product.app


def dev_idp_settings(settings: Settings, *, issuer: str, portal_url: str) -> DevIdpSettings:
    """The development provider, registered with this portal as its client (and M2M client)."""
    management = settings.management_credentials or ("", "")
    return DevIdpSettings(
        issuer=issuer,
        database_url=settings.dev_idp_database_url,
        secret_key=settings.derived_secret("dev-idp.cookie"),
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uris=(f"{portal_url}/callback",),
        post_logout_redirect_uris=(f"{portal_url}/",),
        roles_claim=settings.roles_claim,
        audience=settings.api_audience,
        admin_scope=settings.admin_scope,
        access_token_ttl=settings.dev_idp_access_token_ttl,
        id_token_ttl=settings.dev_idp_access_token_ttl,
        refresh_token_ttl=settings.dev_idp_refresh_token_ttl,
        backchannel_logout_uri=f"{portal_url}/backchannel-logout",
        management_client_id=management[0],
        management_client_secret=management[1],
        management_rate_limit=settings.dev_idp_management_rate_limit,
        production=settings.production,
    )


def _dev_idp(settings: Settings) -> tuple[Callable, list[tuple[str, str, str]]]:
    idp = create_dev_idp(
        dev_idp_settings(settings, issuer=settings.issuer, portal_url=settings.base_url)
    )
    users = [(u.email, u.password, Tier.from_roles(u.roles).value) for u in DEMO_USERS]
    return idp, users


def _known_demo_users(services: Services) -> None:
    """The demo users exist in the table from the start, so `portal token` works at once. A
    database that is down or slow now must not stop a worker from starting: the users come in
    with their first sign-in anyway."""
    try:
        ensure_users(
            services.database,
            [SignIn(u.subject, u.email, u.name, list(u.roles)) for u in DEMO_USERS],
        )
    except SQLAlchemyError as error:
        log.warning("could not add the demo users now (%s); they are added at sign-in", error)


def create_application(settings: Settings | None = None) -> Callable:
    settings = settings or load_settings()
    configure_logging(json_lines=settings.json_logs)
    allow_plain_http_in_development(settings)
    prepare_instance(settings)
    loading = Loading(
        timeout=settings.import_timeout_seconds,
        marks=ImportMarks(settings.instance_path / "importing"),
        reserved_audiences=settings.reserved_audiences,
    )
    discovery = discover(settings.apps_dir, settings.apps_patterns, loading=loading)
    services = Services.build(settings, discovery)

    def mount(product: Product) -> Callable:
        return Gate(
            _product_app(product, services),
            product.info,
            services.resolver,
            services.pages,
            origins=settings.origins,
            websocket_origins=frozenset(settings.websocket_origins),
            sockets=services.sockets,
            tokens=services.tokens,
        )

    mounts: dict[str, Callable] = {}
    dev_users: list[tuple[str, str, str]] = []
    if settings.uses_dev_idp:
        mounts[DEV_IDP_MOUNT], dev_users = _dev_idp(settings)
        _known_demo_users(services)
    if settings.incremental_sync_minutes and settings.management_credentials:
        interval = timedelta(minutes=settings.incremental_sync_minutes)
        IncrementalSyncScheduler(services, interval).start()
    portal_app = create_portal_app(services, dev_users=dev_users)
    product_mounts = ProductMounts(portal_app, mounts, services, mount, loading=loading)
    router = HostRouter(
        product_mounts,
        settings.origins,
        settings.allowed_hosts,
        services.handoffs,
        services.pages,
    )
    application: Callable = RequestContext(
        router,
        origins=settings.origins,
        portal_csp=portal_csp([urlsplit(settings.issuer)._replace(path="").geturl()]),
    )
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        application = ProxyFix(application, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    application.services = services  # type: ignore[attr-defined]
    application.portal_app = portal_app  # type: ignore[attr-defined]
    application.dev_idp = mounts.get(DEV_IDP_MOUNT)  # type: ignore[attr-defined]
    application.mounts = product_mounts  # type: ignore[attr-defined]
    loaded = sum(p.status is Status.LOADED for p in discovery.products)
    if settings.production and not settings.origins.host_mode:
        log.warning(
            "serving in path mode: every product shares one origin, so a product's script (or an "
            "XSS in any product) acts with its visitor's rights on every product, the admin "
            "console included; set PORTAL_HOST_DOMAIN to give each product a host of its own"
        )
    log.info("portal ready: %d products mounted, %d loaded", len(discovery.mounted()), loaded)
    return application
