"""`POST /api/hooks/auth0`: Auth0 says "these users changed" and the portal re-reads them.

The caller proves itself with the shared secret `PORTAL_WEBHOOK_SECRET` as a bearer token; the
body's shape is checked by `directory.webhook` before anything is read or written.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, jsonify, request

from db.audit import Source
from directory.sync import SyncError
from directory.webhook import BadBody, parse_body, user_ids_from
from kit.openapi import ErrorAnswer
from portal.api_description import PORTAL_API, WebhookBody, WebhookResults, WebhookUnavailable
from portal.views import services

log = logging.getLogger(__name__)

hooks = Blueprint("hooks", __name__)


@hooks.post("/api/hooks/auth0")
@PORTAL_API.describe(
    body=WebhookBody,
    responses={
        200: WebhookResults,
        400: ErrorAnswer,
        401: ErrorAnswer,
        404: ErrorAnswer,
        503: WebhookUnavailable,
    },
    tags=["auth0"],
    security=[{"webhook_secret": []}],
)
def auth0_changed() -> object:
    """Re-read the users Auth0 names; the bearer token is `PORTAL_WEBHOOK_SECRET`."""
    current = services()
    secret = current.settings.webhook_secret
    if not secret:
        return jsonify(error="not_found", message="The Auth0 webhook is not enabled."), 404
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), secret.encode()
    ):
        return jsonify(error="unauthorized", message="Wrong or missing webhook secret."), 401
    try:
        user_ids = user_ids_from(parse_body(request.get_data(cache=False)))
    except BadBody as error:
        return jsonify(error="bad_request", message=str(error)), 400
    syncer = current.user_sync()
    results = {}
    try:
        for user_id in user_ids:
            results[user_id] = syncer.one(user_id, source=Source.WEBHOOK)
    except SyncError as error:
        log.warning("webhook re-read failed: %s", error)
        return jsonify(error="unavailable", message=str(error), results=results), 503
    return jsonify(results=results)
