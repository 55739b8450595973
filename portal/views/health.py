"""`/healthz` (the process is alive), `/readyz` (it can serve) and `/metrics` (Prometheus)."""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from db.intents import pending_count
from portal.api_description import PORTAL_API, Alive, Readiness
from portal.products.discovery import Status
from portal.readiness import Check, run_checks
from portal.services import Services
from portal.views import services

#: /readyz answers within a second; each check gets a little less, for the rest of the request.
READY_DEADLINE_SECONDS = 0.8
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
@PORTAL_API.describe(responses={200: Readiness, 503: Readiness}, tags=["health"], public=True)
def readyz() -> Response:
    """Ready when the database answers and the issuer's metadata is at hand, answered within a
    second even when one of them hangs; products are reported, since a broken product doesn't
    make the portal unready, and so is Redis, which only speeds things up, and the count of
    admin changes pending reconciliation."""
    results = run_checks(current_app.extensions[CHECKS_KEY], READY_DEADLINE_SECONDS)
    pending = results.pop(PENDING_CHANGES)
    counts = {status.value: 0 for status in Status}
    for product in services().discovery.products:
        counts[product.status.value] += 1
    ready = all(value == "ok" for value in results.values())
    response = jsonify(
        status="ready" if ready else "not ready",
        checks=results,
        products=counts,
        accelerators=services().accelerators(),
        pending_changes=int(pending) if pending.isdigit() else pending,
    )
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.headers["Retry-After"] = "5"
    return response


@health.get("/metrics")
def metrics() -> Response:
    settings = services().settings
    if not _may_scrape(settings.metrics_allow, settings.metrics_token):
        response = jsonify(error="forbidden", message="Metrics are not open to this client.")
        response.status_code = 403
        return response
    registry = None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    body = generate_latest(registry) if registry else generate_latest()
    return Response(
        body, mimetype=CONTENT_TYPE_LATEST.split(";")[0], headers={"Cache-Control": "no-store"}
    )


def _may_scrape(allowed: tuple[str, ...], token: str) -> bool:
    """From an allowed address, or with the metrics token as a bearer token."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowed)
