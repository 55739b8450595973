"""`/healthz` (the process is alive), `/readyz` (it can serve) and `/metrics` (Prometheus).

`/readyz` is the whole portal's readiness: 200 while its own dependencies answer, however its
products do, so a load balancer never drains every product because one is down. A process
product that is not serving (starting, unhealthy, restarting, failed, or its supervisor being
restarted) is named under `degraded`; `/readyz?product=tier/name` answers 503 while that one
product doesn't serve (or is broken, or excluded), for a check of its own.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from auth.product_kinds import ProductKind
from db.intents import pending_count
from kit.openapi import ErrorAnswer
from portal.api_description import PORTAL_API, Alive, Readiness, ReadinessQuery
from portal.products.discovery import Product, Status
from portal.readiness import Check, run_checks
from portal.services import Services
from portal.views import services

CHECKS_KEY = "portal.readiness"
#: Reported beside the checks, never a reason to be unready: the reconciler settles them.
PENDING_CHANGES = "pending_changes"

health = Blueprint("health", __name__)


def readiness_checks(app: Flask, current: Services) -> None:
    """The checks /readyz runs, kept per app: each remembers a run still stuck from before."""
    app.extensions[CHECKS_KEY] = {
        "database": Check(
            current.database.ping, lambda error: f"unreachable: {type(error).__name__}"
        ),
        "identity_provider": Check(
            lambda: _passed(current.metadata.get()),
            lambda error: f"metadata unavailable: {type(error).__name__}",
        ),
        PENDING_CHANGES: Check(
            lambda: str(_pending_changes(current)),
            lambda error: f"not counted: {type(error).__name__}",
        ),
    }


def _passed(_answer: object) -> None:
    """A check that passes by answering at all."""


def _pending_changes(current: Services) -> int:
    """Admin changes made, or maybe made, in Auth0 and not yet settled here (`db.intents`)."""
    with current.database.transaction() as db:
        return pending_count(db)


@health.get("/healthz")
@PORTAL_API.describe(responses={200: Alive}, tags=["health"], public=True)
def healthz() -> Response:
    """The process is alive."""
    return jsonify(status="ok")


@health.get("/readyz")
@PORTAL_API.describe(
    responses={200: Readiness, 503: Readiness, 404: ErrorAnswer},
    query=ReadinessQuery,
    tags=["health"],
    public=True,
)
def readyz() -> Response:
    """Ready when the database answers and the issuer's metadata is at hand, answered within
    `PORTAL_READY_DEADLINE_SECONDS` (checks run side by side) even when one of them hangs, and
    without reading a session (`SESSIONLESS`); products are reported, since a broken or stopped
    product doesn't make the portal unready, and so is Redis, which only speeds things up, and
    so is the count of admin changes pending reconciliation."""
    asked = request.args.get("product")
    products = services().discovery.products
    statuses = {product.info.key: product.status for product in products}
    if asked is not None and asked not in statuses:
        response = jsonify(error="not_found", message=f"No product {asked[:80]!r} is mounted.")
        response.status_code = 404
        return response
    results = run_checks(
        current_app.extensions[CHECKS_KEY], services().settings.ready_deadline_seconds
    )
    pending = results.pop(PENDING_CHANGES)
    counts = {status.value: 0 for status in Status}
    for product in products:
        counts[product.status.value] += 1
    degraded = _degraded(products)
    ready = all(value == "ok" for value in results.values())
    if asked is not None:
        ready = ready and statuses[asked] is Status.LOADED and asked not in degraded
    response = jsonify(
        status="ready" if ready else "not ready",
        checks=results,
        products=counts,
        degraded=degraded,
        accelerators=services().accelerators(),
        product=asked,
        pending_changes=int(pending) if pending.isdigit() else pending,
    )
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.headers["Retry-After"] = "5"
    return response


def _degraded(products: Iterable[Product]) -> dict[str, str]:
    """The process products that do not serve now, with their state."""
    found = {}
    for product in products:
        if product.status is Status.LOADED and product.info.kind is ProductKind.PROCESS:
            state = product.process_state() if product.process_state else None
            if state is not None and not state.serving:
                found[product.info.key] = state.state.value
    return found


@health.get("/metrics")
def metrics() -> Response:
    settings = services().settings
    if not _may_scrape(settings.metrics_allow, settings.metrics_token):
        response = jsonify(error="forbidden", message="Metrics are not open to this client.")
        response.status_code = 403
        return response
    registry = None
    if settings.metrics_folder:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    body = generate_latest(registry) if registry else generate_latest()
    return Response(
        body, mimetype=CONTENT_TYPE_LATEST.split(";")[0], headers={"Cache-Control": "no-store"}
    )


#: What the portal's proxy sets on every request it passes to a product's server, whatever the
#: client sent: a request carrying one came through a product (a server that relays to the
#: portal, or an `upstream` that is the portal), so the loopback it arrives from is the proxy's.
RELAYED_BY_THE_PORTAL = ("X-Forwarded-Prefix", "X-Portal-Identity", "X-Portal-User")


def _may_scrape(allowed: tuple[str, ...], token: str) -> bool:
    """With the metrics token as a bearer token, or from an allowed address when the request
    did not come through the portal's own proxy."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.encode(), token.encode())
    ):
        return True
    if any(name in request.headers for name in RELAYED_BY_THE_PORTAL):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowed)
