"""How a discovered product is served: behind its Gate, bound to the portal, or as a 503 page.

Every product gets a Gate of its own (`auth.gate`). An `upstream =` product is the portal's
proxy to its server (`portal.products.proxy`), health-checked while it is mounted; a `command =`
product the proxy to its process, as the supervisor reports it (`portal.products.process_mount`).
An AuthFlask product is also told where it is mounted and given its own session secret; one in
the admin tier gets the typed services admin products may use (`kit.admin`). A product that
failed to load answers 503, with the error and its traceback for devel and admin users, who can
do something about it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from auth.gate import Gate
from auth.identity import LOGOUT_TOKEN_ENVIRON_KEY, USER_ENVIRON_KEY
from auth.product_kinds import ProductKind
from auth.product_paths import PathPolicy, blocks_for
from auth.responses import ErrorPage, html_response
from auth.tiers import Tier
from kit.authflask import AuthFlask
from portal.pages import ErrorPages
from portal.products.discovery import Product, Status
from portal.products.process_mount import ProcessMount, state_source
from portal.products.process_state import ProcessState
from portal.products.proxy import ProxyApp
from portal.products.upstream_health import HEALTH_INTERVAL_SECONDS, HealthMonitor
from portal.services import Services

#: A forward-auth check (`portal.forward_auth`) puts an app here: the Gate decides on the request
#: as on any other, and an allowed one reaches this stand-in instead of the product.
STAND_IN_ENVIRON_KEY = "portal.stand_in"


class BrokenProduct:
    """What a product that failed to load answers: 503, with the error for devel and admin users."""

    def __init__(self, product: Product, pages: ErrorPages) -> None:
        self.product = product
        self.pages = pages

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        user = environ.get(USER_ENVIRON_KEY)
        insider = user is not None and user.tier.opens(Tier.DEVEL)
        page = ErrorPage(
            503,
            f"{self.product.info.title} is unavailable",
            f"{self.product.info.key} could not be loaded, so it is not being served. The rest "
            "of the portal works as usual.",
            details=self._details() if insider else None,
            action_url=self.pages.dashboard_url,
            action_label="Back to your dashboard",
        )
        body = self.pages(page, user=user, logout_token=environ.get(LOGOUT_TOKEN_ENVIRON_KEY))
        return html_response(start_response, 503, body)

    def _details(self) -> str | None:
        error, trace = self.product.error, self.product.traceback
        return f"{error}\n\n{trace}" if error and trace else error or trace


class ProductSlot:
    """Where the product sits behind its Gate, innermost: a forward-auth check puts its stand-in
    here, so whatever the Gate does before letting a request through applies to it unchanged."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        return environ.get(STAND_IN_ENVIRON_KEY, self.app)(environ, start_response)


def proxied(
    product: Product,
    services: Services,
    upstream: str | Callable[[], str],
    *,
    state: Callable[[], ProcessState] | None = None,
) -> ProxyApp:
    """A product served by a server of its own: the proxy to it, its state shown wherever the
    product is listed: `state` where something else knows it (a supervisor), else the health
    path asked by this worker. The proxy is the product's app from now on, so an edit to its
    product.toml that doesn't read keeps it serving as it was."""
    info = product.info
    proxy = ProxyApp(info, upstream, tokens=services.identity_tokens, pages=services.pages)
    if state is None:
        proxy.health = HealthMonitor(proxy.check_health, info.key, HEALTH_INTERVAL_SECONDS)
        state = proxy.health.state
    product.process_state = state
    product.app = proxy
    return proxy


def _process_mount(product: Product, services: Services) -> ProcessMount:
    """A `command` product: its state as the supervisor writes it, requests through the proxy
    to wherever its process listens now."""
    state = state_source(product.info.key, services.processes)
    mount = ProcessMount(product, state, services.pages, services.identity_tokens)
    product.process_state = state
    product.app = mount  # kept serving while an edit to its product.toml doesn't read
    return mount


def _bound(product: Product, services: Services) -> Callable:
    if product.status is Status.LOADED and product.info.kind is ProductKind.UPSTREAM:
        return proxied(product, services, product.info.upstream)
    if product.status is Status.LOADED and product.info.kind is ProductKind.PROCESS:
        return _process_mount(product, services)
    if product.status is Status.BROKEN or product.app is None:
        return BrokenProduct(product, services.pages)
    if isinstance(product.app, AuthFlask):
        if product.info.tier is Tier.ADMIN:
            product.app.admin_services = services.for_admin_products()
        origins = services.settings.origins
        product.app.bind_portal(
            product.info,
            services.settings.secret_key,
            site_name=services.settings.site_name,
            secure_cookies=origins.https,
            portal_url=origins.portal_origin if origins.host_mode else "",
        )
    return product.app


def gated(product: Product, services: Services) -> Gate:
    """The product as the mount table serves it: its app (or its 503 page) behind its Gate."""
    settings = services.settings
    return Gate(
        ProductSlot(_bound(product, services)),
        product.info,
        services.resolver,
        services.pages,
        origins=settings.origins,
        websocket_origins=frozenset(settings.websocket_origins),
        sockets=services.sockets,
        tokens=services.tokens,
        identity_headers=settings.identity_headers,
        paths=PathPolicy.for_product(
            product.info.tier,
            product.info.stricter_paths,
            blocks_for(product.info.key, settings.blocked_paths),
        ),
    )
