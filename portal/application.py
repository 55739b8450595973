"""Assembling the whole site, once per process: `create_app()` returns the portal's Flask app,
whose `wsgi_app` is every request's path through the portal.

The layers, arrows pointing one way (a package imports only those to its right):

    portal  ->  kit  ->  directory  ->  auth  ->  db
    (assembly,   (what      (Auth0: the    (who is      (data: models,
     views,       products   Management    asking:      engine,
     operations)  import)    API, sync,    sessions,    repositories)
                             user admin)   the Gate)
    devidp: the development identity provider, wired in by portal/development.py alone.

A request, signed in, to a product runs through these files, in order (wsgi.py calls this
module's `create_app()` once per process to build them):

    portal/request_context.py    RequestContext: request id, security headers, access log, metrics
    portal/routing.py            HostRouter (trusted hosts; in host mode, which host serves
                                 what) -> ProductMounts (DispatcherMiddleware: `/` is the portal
                                 app, `/<tier>/<name>` a product's Gate)
    auth/gate.py                 Gate: identity, tier, then the product with the user in the environ
    auth/resolver.py             the session cookie -> who (cached a few seconds; on a miss,
                                 auth/sessions.py reads the session and the user in one query)
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.flask_app import build_portal_app
from portal.forward_auth import ForwardAuth
from portal.forward_auth_sources import CheckSources
from portal.logs import configure_logging
from portal.products.discovery import Discovery, Loading, Status, discover
from portal.products.loader import ImportMarks
from portal.products.serving import gated
from portal.products.watch import ProductWatcher
from portal.request_context import RequestContext, portal_csp
from portal.routing import HostRouter, ProductMounts
from portal.scheduler import RECONCILE_INTERVAL, IncrementalSyncScheduler
from portal.services import Services
from portal.settings import DEV_IDP_MOUNT, Settings, load_settings
from portal.startup import allow_plain_http_in_development, prepare_instance

log = logging.getLogger(__name__)

PATH_MODE_IN_PRODUCTION = (
    "serving in path mode: every product shares one origin, so a product's script (or an XSS "
    "in any product) acts with its visitor's rights on every product, the admin console "
    "included; set PORTAL_HOST_DOMAIN to give each product a host of its own"
)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    configure_logging(json_lines=settings.json_logs)
    allow_plain_http_in_development(settings)
    prepare_instance(settings)
    loading = Loading(
        timeout=settings.import_timeout_seconds,
        marks=ImportMarks(settings.instance_path / "importing"),
        reserved_audiences=settings.reserved_audiences,
        portal_addresses=settings.portal_addresses,
    )
    products = discover(settings.apps_dir, settings.apps_patterns, loading=loading)
    services = Services.build(settings, products)
    fixed, dev_users = _development_mounts(services)
    app = build_portal_app(services, dev_users=dev_users)
    serve = partial(gated, services=services)
    mounts = ProductMounts(ProductWatcher(app.wsgi_app, fixed, services, serve, loading=loading))
    router = HostRouter(
        mounts,
        settings.origins,
        settings.allowed_hosts,
        services.handoffs,
        services.pages,
        services.locations,
    )
    csp = portal_csp([urlsplit(settings.issuer)._replace(path="").geturl()])
    checks = ForwardAuth(
        router,
        mounts,
        services.identity_tokens.identity_headers,
        settings.identity_cache_seconds,
        CheckSources(settings.forward_auth_sources, settings.allowed_hosts),
    )
    stack = RequestContext(checks, origins=settings.origins, portal_csp=csp, pages=services.pages)
    hops = settings.trusted_proxies
    if hops:
        stack = ProxyFix(stack, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.wsgi_app = stack  # type: ignore[method-assign]
    app.extensions["portal.mounts"] = mounts
    app.extensions["portal.dev_idp"] = fixed.get(DEV_IDP_MOUNT)
    if settings.management_credentials:
        minutes = settings.incremental_sync_minutes
        interval = timedelta(minutes=minutes) if minutes else RECONCILE_INTERVAL
        IncrementalSyncScheduler(services, interval, sync=bool(minutes)).start()
    _ready(settings, services.discovery)
    return app


def _development_mounts(services: Services) -> tuple[dict, list[tuple[str, str, str]]]:
    """The built-in identity provider at /idp and its demo users, only when no issuer is set."""
    if not services.settings.uses_dev_idp:
        return {}, []
    from portal.development import development_provider, known_demo_users

    provider, dev_users = development_provider(services.settings)
    known_demo_users(services)
    return {DEV_IDP_MOUNT: provider}, dev_users


def _ready(settings: Settings, discovery: Discovery) -> None:
    if settings.production and not settings.origins.host_mode:
        log.warning(PATH_MODE_IN_PRODUCTION)
    loaded = sum(p.status is Status.LOADED for p in discovery.products)
    log.info("portal ready: %d products mounted, %d loaded", len(discovery.mounted()), loaded)
