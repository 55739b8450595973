"""Signing-key endpoints of the Management API, at Auth0's paths: list the keys and rotate.

``POST /api/v2/keys/signing/rotate`` is how an operator (or a test, over HTTP) rotates the key
without touching the provider's process: a new key signs from then on, the previous one stays in
the JWKS for ``?grace_seconds=`` (default one hour) and then leaves it. Auth0 keeps the previous
key until it is revoked by hand; a grace period is the stand-in for that second step. Only the
machine-to-machine application can call these (scopes ``read:signing_keys`` and
``create:signing_keys``), never the portal's web client.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify

from .keys import DEFAULT_GRACE_SECONDS, KeyInfo
from .management_http import route
from .management_query import int_arg
from .state import current_idp

#: A week; longer than any token this provider issues would ever need.
MAX_GRACE_SECONDS = 7 * 24 * 3600

#: Part of the Management API (nested in its blueprint, under ``/api/v2``).
blueprint = Blueprint("management_keys", __name__)


def _iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def key_json(key: KeyInfo) -> dict[str, object]:
    """Auth0's signing-key fields where they apply (no certificates: keys here are bare)."""
    return {
        "kid": key.kid,
        "current": key.current,
        "previous": not key.current,
        "revoked": False,
        "current_since": _iso(key.created_at),
        "retire_at": _iso(key.retire_at),
    }


@route(blueprint, "/keys/signing", "read:signing_keys")
def list_signing_keys() -> Response:
    return jsonify([key_json(key) for key in current_idp().store.signing_keys()])


@route(blueprint, "/keys/signing/rotate", "create:signing_keys", ("POST",))
def rotate_signing_key() -> tuple[Response, int]:
    grace = int_arg("grace_seconds", DEFAULT_GRACE_SECONDS, maximum=MAX_GRACE_SECONDS)
    kid = current_idp().store.rotate_signing_key(grace)
    return jsonify(kid=kid, grace_seconds=grace), 201
