"""`POST /api/hooks/auth0`: Auth0 says "this user changed" and the portal re-reads that user.

Auth0 reaches it from a Log Stream (custom webhook) or an Action, with the shared secret
`PORTAL_WEBHOOK_SECRET` as a bearer token. The body names users; their data is never taken from
the body but re-read from the Management API, so a leaked secret can trigger a re-read at most.
Accepted bodies: `{"user_id": "..."}`, `{"user_ids": [...]}`, or a Log Stream batch (a list of
events whose `data.user_id` names the user). Anything else is a 400 saying what is wrong, before
anything is read or written: a body over `MAX_BODY_BYTES` or nested deeper than `MAX_DEPTH`, text
that is not UTF-8 JSON, events that are not objects, user ids that are not printable text.
"""

from __future__ import annotations

import hmac
import json
import logging

from flask import Blueprint, jsonify, request

from db.audit import Source
from directory.sync import SyncError
from portal.services import Services

log = logging.getLogger(__name__)

MAX_USERS_PER_CALL = 100
#: A Log Stream batch is at most a few hundred KiB; Auth0's events nest about six levels deep.
MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_ID_LENGTH = 255


class BadBody(ValueError):
    pass


def parse_body(raw: bytes) -> object:
    """The body as JSON, refusing what is too big or too deep to be a real Auth0 call."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadBody(f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise BadBody(f"The body is nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError:
        raise BadBody("The body is not valid JSON.") from None
    if _depth(body) > MAX_DEPTH:
        raise BadBody(f"The body is nested deeper than {MAX_DEPTH} levels.")
    return body


def _depth(value: object) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest


def user_ids_from(body: object) -> list[str]:
    if isinstance(body, dict) and "user_id" in body:
        ids = [body["user_id"]]
    elif isinstance(body, dict) and "user_ids" in body:
        ids = body["user_ids"]
    elif isinstance(body, list):
        ids = _log_stream_ids(body)
    else:
        raise BadBody('expected {"user_id": ...}, {"user_ids": [...]} or a Log Stream batch')
    if not isinstance(ids, list) or not all(
        isinstance(i, str) and 0 < len(i) <= MAX_ID_LENGTH for i in ids
    ):
        raise BadBody(f"user ids must be non-empty strings of at most {MAX_ID_LENGTH} characters")
    if not all(_printable(i) for i in ids):
        raise BadBody("user ids must be printable text (no control characters or lone surrogates)")
    if not ids:
        raise BadBody("the body names no user")
    if len(ids) > MAX_USERS_PER_CALL:
        raise BadBody(f"at most {MAX_USERS_PER_CALL} users per call")
    return list(dict.fromkeys(ids))


def _log_stream_ids(events: list) -> list:
    """`data.user_id` of each event; events about no user (a failed sign-in) are skipped."""
    ids = []
    for number, event in enumerate(events):
        if not isinstance(event, dict):
            raise BadBody(f"event {number} is not a JSON object")
        data = event.get("data")
        if not isinstance(data, dict):
            raise BadBody(f"event {number} has no data object")
        if data.get("user_id") is not None:
            ids.append(data["user_id"])
    return ids


def _printable(value: str) -> bool:
    """Text that can be stored and shown: no control characters, no lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return value.isprintable()


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
        try:
            user_ids = user_ids_from(parse_body(request.get_data(cache=False)))
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
