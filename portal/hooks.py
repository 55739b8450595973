"""`POST /api/hooks/auth0`: Auth0 says "this user changed" and the portal re-reads that user.

Auth0 reaches it from a Log Stream (custom webhook) or an Action, with the shared secret
`PORTAL_WEBHOOK_SECRET` as a bearer token. The body names users; their data is never taken from
the body but re-read from the Management API, so a leaked secret can trigger a re-read at most.
Accepted bodies: `{"user_id": "..."}`, `{"user_ids": [...]}`, or a Log Stream batch (a list of
events whose `data.user_id` names the user).
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, jsonify, request

from db.audit import Source
from db.sync import SyncError
from portal.services import Services

log = logging.getLogger(__name__)

MAX_USERS_PER_CALL = 100


class BadBody(ValueError):
    pass


def user_ids_from(body: object) -> list[str]:
    if isinstance(body, dict) and "user_id" in body:
        ids = [body["user_id"]]
    elif isinstance(body, dict) and "user_ids" in body:
        ids = body["user_ids"]
    elif isinstance(body, list):
        ids = [event.get("data", {}).get("user_id") for event in body if isinstance(event, dict)]
        ids = [user_id for user_id in ids if user_id]
    else:
        raise BadBody('expected {"user_id": ...}, {"user_ids": [...]} or a Log Stream batch')
    if not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= 255 for i in ids):
        raise BadBody("user ids must be non-empty strings of at most 255 characters")
    if len(ids) > MAX_USERS_PER_CALL:
        raise BadBody(f"at most {MAX_USERS_PER_CALL} users per call")
    return list(dict.fromkeys(ids))


def create_hooks(services: Services) -> Blueprint:
    hooks = Blueprint("hooks", __name__)
    secret = services.settings.webhook_secret

    @hooks.post("/api/hooks/auth0")
    def auth0_changed() -> object:
        if not secret:
            return jsonify(error="not_found", message="The Auth0 webhook is not enabled."), 404
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), secret.encode()
        ):
            return jsonify(error="unauthorized", message="Wrong or missing webhook secret."), 401
        body = request.get_json(force=True, silent=True)
        if body is None:
            return jsonify(error="bad_request", message="The body is not valid JSON."), 400
        try:
            user_ids = user_ids_from(body)
        except BadBody as error:
            return jsonify(error="bad_request", message=str(error)), 400
        syncer = services.user_sync()
        results = {}
        try:
            for user_id in user_ids:
                results[user_id] = syncer.one(user_id, source=Source.WEBHOOK)
        except SyncError as error:
            log.warning("webhook re-read failed: %s", error)
            return jsonify(error="unavailable", message=str(error), results=results), 503
        return jsonify(results=results)

    return hooks
