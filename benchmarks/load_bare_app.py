"""The sample products WITHOUT the Gate: the baseline `load_benchmark.py` compares the portal with.

Served by gunicorn with the project's own gunicorn.conf.py, as
`gunicorn -c gunicorn.conf.py benchmarks.load_bare_app:application`. It is the portal's request
path with the Gate taken out and nothing else changed:

    RequestContext (same request id, security headers, access log line and metrics)
      DispatcherMiddleware
        "/"              -> a tiny app answering /healthz
        "/<tier>/<name>" -> FixedIdentity -> the same product app, bound as the portal binds it

`FixedIdentity` puts what the Gate would put into the environ (one fixed devel-tier user, the
product, a sign-out token), so AuthFlask pages render the same frame. There are no sessions, no
tier checks and no database. Admin products are left out: they need the portal's services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from auth.identity import (
    AUTH_METHOD_ENVIRON_KEY,
    LOGOUT_TOKEN_ENVIRON_KEY,
    MOUNT_ENVIRON_KEY,
    PRODUCT_ENVIRON_KEY,
    USER_ENVIRON_KEY,
    PortalUser,
    ProductInfo,
)
from auth.tiers import Tier
from kit import AuthFlask
from portal.logs import configure_logging
from portal.pages import ErrorPages
from portal.products.discovery import Status, discover
from portal.request_context import RequestContext, portal_csp
from portal.settings import load_settings

log = logging.getLogger(__name__)

USER = PortalUser(
    id=1,
    subject="auth0|load-benchmark",
    email="load-benchmark@example.org",
    name="Load Benchmark",
    tier=Tier.DEVEL,
)


class FixedIdentity:
    """What the Gate hands a product when it lets a request through, minus every check."""

    def __init__(self, app: Callable, product: ProductInfo) -> None:
        self.app = app
        self.product = product

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ[MOUNT_ENVIRON_KEY] = self.product.key
        environ[USER_ENVIRON_KEY] = USER
        environ[PRODUCT_ENVIRON_KEY] = self.product
        environ[LOGOUT_TOKEN_ENVIRON_KEY] = "load-benchmark"
        environ[AUTH_METHOD_ENVIRON_KEY] = "session"
        environ["REMOTE_USER"] = USER.subject
        return self.app(environ, start_response)


def root(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """`/healthz` for the readiness checks; anything outside a product is 404."""
    found = environ.get("PATH_INFO") == "/healthz"
    body = b"ok" if found else b"not found"
    start_response(
        "200 OK" if found else "404 Not Found",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]


def create_bare_application() -> Callable:
    settings = load_settings()
    configure_logging(json_lines=settings.json_logs)
    mounts: dict[str, Callable] = {}
    for product in discover(settings.apps_dir, settings.apps_patterns).mounted():
        if product.status is not Status.LOADED or product.app is None:
            continue
        if product.info.tier is Tier.ADMIN:
            continue
        if isinstance(product.app, AuthFlask):
            product.app.bind_portal(
                product.info,
                settings.secret_key,
                site_name=settings.site_name,
                secure_cookies=settings.secure_cookies,
            )
        mounts[product.info.mount_path] = FixedIdentity(product.app, product.info)
    application = RequestContext(
        DispatcherMiddleware(root, mounts),
        origins=settings.origins,
        portal_csp=portal_csp([]),
        pages=ErrorPages(settings.site_name, settings.origins),
    )
    log.info("bare products ready: %d mounted without the Gate", len(mounts))
    return application


application = create_bare_application()
